"""Connector.check()'s default: a one-row probe of `check_entity` where only what says the
credentials or the system are wrong fails (docs/architecture.md, "The upstream toolkit")."""

import pytest

from connections.connectors.base import Connector, UpstreamError


def connector_answering(code: str | None):
    class Probed(Connector):
        key, name, category, check_entity = "probed", "Probed", "erp", "vendors"

        def probe(self, entity: str) -> None:
            self.probed = entity
            if code:
                raise UpstreamError(code, f"{code} on {entity}")

    return Probed(config={}, credentials={})


def test_it_probes_the_check_entity():
    connector = connector_answering(None)
    connector.check()
    assert connector.probed == "vendors"


@pytest.mark.parametrize("code", ["UPSTREAM_PERMISSION_DENIED", "UPSTREAM_NOT_FOUND"])
def test_it_leaves_one_entitys_403_or_404_to_the_per_entity_probe(code):
    connector_answering(code).check()


@pytest.mark.parametrize("code", ["UPSTREAM_AUTHENTICATION_FAILED", "UPSTREAM_UNREACHABLE", "UPSTREAM_SERVER_ERROR"])
def test_it_fails_on_what_says_the_credentials_or_the_system_are_wrong(code):
    with pytest.raises(UpstreamError) as exc:
        connector_answering(code).check()
    assert exc.value.code == code


def test_it_needs_a_check_entity_or_an_own_check():
    with pytest.raises(NotImplementedError):
        Connector(config={}, credentials={}).check()
