from connections.connect_links import connect_link_create
from tests.syncs.factories import TEST_ACTOR

SECRET = "s3cr3t-api-key-7f1c"  # a credential typed on the page: must appear nowhere afterwards


def make_link(*, connectors=("sandbox",), entities=("vendors", "locations"), redirect_url="", expires_in=3600,
              customer="Acme Plant", external_id="acme-1"):
    """A connect link and its token, as the API makes them."""
    return connect_link_create(customer_name=customer, customer_external_id=external_id,
                               connectors=list(connectors), entities=list(entities), redirect_url=redirect_url,
                               expires_in=expires_in, actor=TEST_ACTOR)


def page_path(token: str, suffix: str = "") -> str:
    return f"/link/{token}/{suffix}"


def sandbox_fields(*, api_key: str = SECRET, **config) -> dict:
    """The POST of the sandbox form on the page: a small, fast sandbox."""
    data = {"connector": "sandbox", "credentials__api_key": api_key, "config__seed": "1", "config__records": "5",
            "config__page_size": "10", "config__change_rate": "0", "config__change_period_seconds": "300",
            "config__deleted_fraction": "0", "config__span_days": "60", "config__faults": "{}"}
    data.update({f"config__{k}": v for k, v in config.items()})
    return data
