import pytest

from webhooks.netpolicy import TargetRefused, _networks, address_normalize, address_refusal, addresses_check, url_parse


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "non-public"),
    ("fc00::1", "private"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("2002:a00:1::", "embedding 10.0.0.1"),
])
def test_it_refuses_non_public_addresses(address, reason):
    refusal = address_refusal(address_normalize(address))
    assert refusal is not None and reason in refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_it_accepts_public_addresses(address):
    assert address_refusal(address_normalize(address)) is None


def test_it_exempts_allow_listed_networks_including_their_ipv4_mapped_form():
    allowed = _networks(("127.0.0.0/8",))
    assert address_refusal(address_normalize("127.0.0.1"), allowed=allowed) is None
    assert address_refusal(address_normalize("::ffff:127.0.0.1"), allowed=allowed) is None
    assert address_refusal(address_normalize("::1"), allowed=allowed) is not None
    assert address_refusal(address_normalize("10.0.0.1"), allowed=allowed) is not None


def test_it_keeps_only_permitted_addresses_of_a_mixed_answer():
    allowed = _networks(("127.0.0.0/8",))
    assert addresses_check(["10.0.0.1", "::1", "127.0.0.1"], scheme="https", host="h", allowed=allowed) == ["127.0.0.1"]
    assert addresses_check(["::ffff:127.0.0.1"], scheme="https", host="h", allowed=allowed) == ["127.0.0.1"]
    with pytest.raises(TargetRefused, match="h resolves to: 10.0.0.1 is a private address"):
        addresses_check(["10.0.0.1"], scheme="https", host="h", allowed=allowed)


def test_it_allows_plain_http_only_inside_allowed_networks():
    with pytest.raises(TargetRefused, match="plain http"):
        addresses_check(["93.184.216.34"], scheme="http", host="example.com", allowed=())
    assert addresses_check(["127.0.0.1"], scheme="http", host="localhost",
                           allowed=_networks(("127.0.0.0/8",))) == ["127.0.0.1"]


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/", "scheme must be https"),
    ("https:///nohost", "no host"),
    ("not a url at all", "scheme must be https"),
])
def test_it_refuses_urls_it_cannot_use(url, message):
    with pytest.raises(TargetRefused, match=message):
        url_parse(url)


def test_it_parses_hosts_as_the_resolver_sees_them():
    assert url_parse("https://Bücher.example:8443/x").host == "xn--bcher-kva.example"
    target = url_parse("https://[::ffff:127.0.0.1]/")
    assert target.literal and target.host == "::ffff:127.0.0.1"
    assert url_parse("http://localhost/").port == 80
