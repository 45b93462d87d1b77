"""Forms: the connect form is generated from the connector's declared fields."""

from datetime import UTC, datetime

from django import forms

from config.errors import CatalogError
from connections.connectors.base import ConfigField, Connector
from connections.connectors.entities import ENTITIES
from connections.models import Connection

GROUPS = ("config", "credentials")


def _form_field(spec: ConfigField) -> forms.Field:
    required = spec.required and spec.default is None
    common = {"label": spec.label, "required": required, "help_text": spec.help}
    if spec.kind == "integer":
        return forms.IntegerField(initial=spec.default, **common)
    if spec.kind == "number":
        return forms.FloatField(initial=spec.default, **common)
    if spec.kind == "boolean":
        return forms.BooleanField(initial=bool(spec.default), **{**common, "required": False})
    if spec.kind == "url":
        return forms.URLField(initial=spec.default, assume_scheme="https", **common)
    if spec.kind == "json":
        return forms.JSONField(initial=spec.default, widget=forms.Textarea(attrs={"rows": 2}), **common)
    if spec.kind == "password":
        # Never echoed back into the page: after a failed submit the secret is typed again.
        return forms.CharField(widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}), **common)
    return forms.CharField(initial=spec.default, **common)


class ConnectForm(forms.Form):
    customer_name = forms.CharField(label="Customer", max_length=200,
                                    help_text="An existing customer's name, or a new one.")
    customer_external_id = forms.CharField(label="Customer external id", max_length=200, required=False,
                                           help_text="Your application's id for this customer (optional).")
    name = forms.CharField(label="Connection name", max_length=200)
    entities = forms.MultipleChoiceField(label="Entities", required=False, widget=forms.CheckboxSelectMultiple,
                                         help_text="None ticked means all.")
    sync_interval_minutes = forms.IntegerField(label="Sync every (minutes)", min_value=5, max_value=10080, initial=60)
    history_days = forms.IntegerField(label="History (days)", min_value=1, max_value=3650, initial=90)

    def __init__(self, *args, connector: type[Connector], **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.fields["entities"].choices = [(e, e.replace("_", " ")) for e in connector.entities]
        self.fields["entities"].initial = list(connector.entities)
        for group, specs in (("config", connector.config_fields), ("credentials", connector.credential_fields)):
            for spec in specs:
                self.fields[f"{group}__{spec.name}"] = _form_field(spec)

    def _bound(self, group: str) -> list:
        return [self[name] for name in self.fields if name.startswith(f"{group}__")]

    @property
    def config_inputs(self) -> list:
        return self._bound("config")

    @property
    def credential_inputs(self) -> list:
        return self._bound("credentials")

    def values(self, group: str) -> dict:
        """The filled-in fields of a group; blanks are left out so the connector's defaults apply."""
        prefix = f"{group}__"
        return {name[len(prefix):]: value for name, value in self.cleaned_data.items()
                if name.startswith(prefix) and value not in (None, "")}

    def add_catalog_error(self, exc: CatalogError) -> None:
        """Puts VALIDATION_FAILED field errors ("config.seed") on their fields, the rest on the form."""
        for key, message in ((exc.details or {}).get("fields") or {}).items():
            name = key.replace(".", "__", 1)
            if name in self.fields:
                self.add_error(name, message)
            else:
                self.add_error(None, f"{key}: {message}")
        if not self.errors:
            self.add_error(None, exc.message)


class ConnectionSettingsForm(forms.Form):
    sync_interval_minutes = forms.IntegerField(label="Sync every (minutes)", min_value=5, max_value=10080)
    history_days = forms.IntegerField(label="History (days)", min_value=1, max_value=3650)
    entities = forms.MultipleChoiceField(label="Entities", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, connection: Connection, supported=ENTITIES, **kwargs):
        kwargs.setdefault("initial", {"sync_interval_minutes": connection.sync_interval_minutes,
                                      "history_days": connection.history_days, "entities": connection.entities})
        super().__init__(*args, **kwargs)
        self.fields["entities"].choices = [(e, e.replace("_", " ")) for e in supported]


def parse_time(value: str | None) -> datetime | None:
    """A `datetime-local` input (taken as UTC) or an ISO time; None when blank or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
