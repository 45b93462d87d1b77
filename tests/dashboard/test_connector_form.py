"""The connect form built from a connector's declared fields: kinds, choices, bounds, examples
and JSON types, checked on the form as Connector.validate checks them in the API."""

import pytest

from connections.connectors.base import ConfigField, Connector
from core.errors import CatalogError
from dashboard.forms import ConnectForm


class DeclaredConnector(Connector):
    key, name, category = "declared", "Declared", "erp"
    config_fields = (
        ConfigField("url", "Server URL", "url", required=True, help="The server root.",
                    example="https://erp.example.com/"),
        ConfigField("edition", "Edition", choices=(("cloud", "Cloud"), ("onprem", "On premise")), required=True),
        ConfigField("region", "Region", choices=(("eu", "EU"), ("us", "US")), default="eu"),
        ConfigField("rpm", "Requests per minute", "integer", default=60, min_value=1, max_value=600),
        ConfigField("share", "Share", "number", min_value=0, max_value=1),
        ConfigField("counts", "Counts", "json", json_types=("number", "object")),
    )
    credential_fields = (ConfigField("password", "Password", "password", required=True),)


BASE = {"customer_name": "A", "name": "x", "sync_interval_minutes": 60, "history_days": 30,
        "config__url": "https://erp.example.com/", "config__edition": "cloud", "credentials__password": "p"}


def form(**data) -> ConnectForm:
    return ConnectForm({**BASE, **data}, connector=DeclaredConnector)


def test_it_renders_choices_as_a_select_and_bounds_as_number_attributes():
    html = str(ConnectForm(connector=DeclaredConnector))
    assert '<select name="config__edition"' in html and '<option value="onprem">On premise</option>' in html
    assert '<select name="config__region"' in html and '<option value="" ' not in html.split('config__region')[0]
    assert 'name="config__rpm"' in html and 'min="1"' in html and 'max="600"' in html
    assert 'type="number" name="config__share"' in html and 'min="0"' in html
    assert 'placeholder="https://erp.example.com/"' in html


def test_it_puts_the_example_in_the_help_text():
    fields = ConnectForm(connector=DeclaredConnector).fields
    assert fields["config__url"].help_text == "The server root. (e.g. https://erp.example.com/)"
    assert DeclaredConnector.config_fields[0].as_dict()["example"] == "https://erp.example.com/"


def test_it_accepts_what_the_declarations_allow():
    f = form(config__rpm="600", config__share="0.5", config__counts="12", config__region="us")
    assert f.is_valid(), f.errors
    assert f.values("config") == {"url": "https://erp.example.com/", "edition": "cloud", "region": "us",
                                  "rpm": 600, "share": 0.5, "counts": 12}
    assert form(config__counts='{"vendors": 3}').is_valid()


@pytest.mark.parametrize("name, value", [("edition", "saas"), ("rpm", "0"), ("rpm", "601"), ("share", "1.5"),
                                         ("counts", '["a"]'), ("counts", "true")])
def test_it_refuses_what_the_declarations_refuse(name, value):
    f = form(**{f"config__{name}": value})
    assert not f.is_valid() and f"config__{name}" in f.errors


@pytest.mark.parametrize("config, field, message", [
    ({"edition": "saas"}, "edition", "choose one of ['cloud', 'onprem']"),
    ({"rpm": 0}, "rpm", "at least 1"), ({"rpm": 601}, "rpm", "at most 600"), ({"share": -1}, "share", "at least 0"),
    ({"counts": ["a"]}, "counts", "expected number or object"),
    ({"counts": True}, "counts", "expected number or object"),
])
def test_the_api_validation_says_the_same(config, field, message):
    with pytest.raises(CatalogError) as exc:
        DeclaredConnector.validate(config={"url": "https://e.example", "edition": "cloud", **config},
                                   credentials={"password": "p"})
    assert exc.value.details["fields"] == {f"config.{field}": message}


def test_the_sandbox_declares_its_records_field_instead_of_a_special_case():
    from connections.connectors.sandbox import SandboxConnector

    assert SandboxConnector.validate(config={"records": 5}, credentials={"api_key": "k"})["records"] == 5
    assert SandboxConnector.validate(config={"records": {"vendors": 5}}, credentials={"api_key": "k"})
    with pytest.raises(CatalogError) as exc:
        SandboxConnector.validate(config={"records": "lots"}, credentials={"api_key": "k"})
    assert exc.value.details["fields"]["config.records"] == "expected number or object"


class TextOrListConnector(DeclaredConnector):
    key = "text_or_list"
    config_fields = (*DeclaredConnector.config_fields,
                     ConfigField("sites", "Sites", "json", json_types=("string", "array"), example='["BEDFORD"]'))


@pytest.mark.parametrize("typed, value", [('"BEDFORD"', "BEDFORD"), ("BEDFORD", "BEDFORD"), ('["A", "B"]', ["A", "B"])])
def test_it_accepts_a_json_string_where_the_field_declares_one(typed, value):
    f = ConnectForm({**BASE, "config__sites": typed}, connector=TextOrListConnector)
    assert f.is_valid(), f.errors
    assert f.values("config")["sites"] == value
    assert TextOrListConnector.validate(config=f.values("config"), credentials={"password": "p"})["sites"] == value


@pytest.mark.parametrize("typed", ['"twelve"', "twelve", "[1, 2]", "true"])
def test_it_says_which_json_values_a_field_takes(typed):
    f = form(config__counts=typed)
    assert not f.is_valid()
    assert f.errors["config__counts"] == ['Enter a number or a JSON object such as {"key": 1}.']


@pytest.mark.parametrize("code, field, message", [
    ("UPSTREAM_AUTHENTICATION_FAILED", "credentials__password", "The system rejected these credentials"),
    ("UPSTREAM_UNREACHABLE", "config__url", "could not be reached at this address"),
    ("UPSTREAM_ADDRESS_REFUSED", "config__url", "not allowed by the outbound policy"),
])
def test_a_failed_test_marks_the_field_it_concerns(code, field, message):
    f = form()
    assert f.is_valid()
    f.add_catalog_error(CatalogError(code, "refused upstream"))
    assert list(f.errors) == [field] and message in f.errors[field][0]


def test_a_failure_that_concerns_no_field_goes_on_the_form():
    f = form()
    assert f.is_valid()
    f.add_catalog_error(CatalogError("UPSTREAM_SERVER_ERROR", "503 from the system"))
    assert f.errors == {"__all__": ["503 from the system"]}


@pytest.mark.parametrize("faults, message", [
    ({"auth_faliure": True}, "unknown fault auth_faliure; the faults are auth_failure, unreachable, "),
    ({"nope": 1, "other": 2}, "unknown faults nope, other; the faults are auth_failure, "),
    ({"rate_limit_every": "3"}, "rate_limit_every takes a whole number, 0 or more"),
    ({"auth_failure": 1}, "auth_failure takes true or false"),
    ({"slow_page_seconds": -1}, "slow_page_seconds takes a number of seconds"),
])
def test_the_sandbox_refuses_a_fault_it_does_not_know(faults, message):
    from connections.connectors.sandbox import SandboxConnector

    with pytest.raises(CatalogError) as exc:
        SandboxConnector.validate(config={"faults": faults}, credentials={"api_key": "k"})
    assert exc.value.details["fields"]["config.faults"].startswith(message)


def test_the_sandbox_takes_every_documented_fault():
    from connections.connectors.sandbox import FAULTS, SandboxConnector

    values = {"flag": True, "count": 3, "seconds": 0.5}
    faults = {key: values[kind] for key, kind in FAULTS.items()}
    assert SandboxConnector.validate(config={"faults": faults}, credentials={"api_key": "k"})["faults"] == faults


def test_the_sandbox_knows_the_faults_its_doc_lists():
    import re
    from pathlib import Path

    from connections.connectors.sandbox import FAULTS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text()
    table = doc[doc.index("## Faults"):]
    documented = {name for pair in re.findall(r'`"([a-z_]+)":|, "([a-z_]+)":', table) for name in pair if name}
    assert documented == set(FAULTS)
