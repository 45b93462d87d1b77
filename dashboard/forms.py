"""Forms: the connect and credentials forms are generated from the connector's declared fields
(connections/forms.py, shared with the admin)."""

from datetime import UTC, date, datetime, timedelta

from django import forms

from connections.connectors.base import Connector
from connections.connectors.entities import ENTITIES
from connections.forms import ConnectorFieldsMixin
from connections.models import Connection
from core.errors import CatalogError
from core.models import AuditEvent
from dashboard.selectors.common import aware_utc, parse_uuid
from dashboard.selectors.connections import MATCH_LIMIT, connection_matches_too_many
from syncs.models import Incident, SyncRun, Trigger
from webhooks.models import Delivery
from webhooks.services import EVENT_TYPES

GROUPS = ("config", "credentials")


class ConnectForm(ConnectorFieldsMixin, forms.Form):
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
        self.add_connector_fields("config", connector.config_fields)
        self.add_connector_fields("credentials", connector.credential_fields)
        for field in self.fields.values():
            if isinstance(field.widget, forms.PasswordInput):
                # A secret is never rendered back; htmx keeps the typed one when Test re-renders the form.
                field.widget.attrs["hx-preserve"] = "true"


class CredentialsForm(ConnectorFieldsMixin, forms.Form):
    """New credentials for a saved connection (reauthorize). They replace the stored ones as a
    whole. Never filled in from the stored ones (those are not decrypted for a page), and nothing
    typed is echoed back after a refused submit (`forget_input`)."""

    def __init__(self, *args, connector: type[Connector], **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.add_connector_fields("credentials", connector.credential_fields)
        for field in self.fields.values():
            field.initial = None  # a connector default is not a credential of this connection
            field.widget.attrs.setdefault("autocomplete", "off")

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.values("credentials"):
            raise forms.ValidationError("Enter the new credentials.")
        return cleaned

    def forget_input(self) -> None:
        """After a refused submit: keep the errors, drop what was typed, so no credential is echoed."""
        self.is_valid()  # errors are computed from the data first
        data = self.data.copy()
        for name in self.fields:
            data.pop(name, None)
        self.data = data


class ConnectionSettingsForm(forms.Form):
    sync_interval_minutes = forms.IntegerField(label="Sync every (minutes)", min_value=5, max_value=10080)
    history_days = forms.IntegerField(label="History (days)", min_value=1, max_value=3650)
    entities = forms.MultipleChoiceField(label="Entities", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, connection: Connection, supported=ENTITIES, **kwargs):
        kwargs.setdefault("initial", {"sync_interval_minutes": connection.sync_interval_minutes,
                                      "history_days": connection.history_days, "entities": connection.entities})
        super().__init__(*args, **kwargs)
        self.fields["entities"].choices = [(e, e.replace("_", " ")) for e in supported]


class EndpointForm(forms.Form):
    """A webhook endpoint. The URL is checked by the webhooks service (HTTPS only, no private or
    metadata address), so a refused URL comes back as the catalogued error, not a form guess."""

    url = forms.CharField(label="URL", max_length=2000, widget=forms.URLInput(attrs={
        "placeholder": "https://your-app.example.com/webhooks/plantsync", "class": "mono", "spellcheck": "false"}),
        help_text="HTTPS only; private, loopback and cloud metadata addresses are refused.")
    description = forms.CharField(label="Description", max_length=500, required=False,
                                  help_text="What receives these events, for whoever reads this list next.")
    event_types = forms.MultipleChoiceField(label="Event types", required=False, widget=forms.CheckboxSelectMultiple,
                                            choices=[(t, t) for t in EVENT_TYPES],
                                            help_text="None ticked means every event type, including new ones.")
    connection = forms.CharField(label="Connection", required=False,
                                 help_text="Only this connection's events; all connections when empty.")

    def __init__(self, *args, scope_choices: list[tuple] | None, **kwargs):
        """`scope_choices`: [(id, label)] for a select, or None to type a connection id (too many to list)."""
        super().__init__(*args, **kwargs)
        field = self.fields["connection"]
        if scope_choices is not None:
            field.widget = forms.Select(choices=[("", "All connections"), *scope_choices])
        else:
            field.widget = forms.TextInput(attrs={"placeholder": "Connection id (empty: all connections)",
                                                  "class": "mono", "size": 38})

    def clean_connection(self):
        value = (self.cleaned_data.get("connection") or "").strip()
        if not value:
            return None
        pk = parse_uuid(value)
        connection = (Connection.objects.select_related("customer").defer("credentials", "config", "metadata")
                      .filter(pk=pk).first() if pk else None)
        if connection is None:
            raise forms.ValidationError("No connection has this id.")
        return connection

    def add_catalog_error(self, exc: CatalogError) -> None:
        """The webhooks service names the bad fields in details.fields, like every service."""
        fields = (exc.details or {}).get("fields") or {}
        for name, problem in fields.items():
            if name in self.fields:
                self.add_error(name, problem if isinstance(problem, str) else f"not allowed: {', '.join(problem)}")
        if not self.errors:
            self.add_error(None, exc.message)


def parse_time(value: str | None) -> datetime | None:
    """A `datetime-local` input (taken as UTC) or an ISO time, in UTC; None when blank, unreadable
    or outside what the database stores ("9999-12-31T23:59-14:00" is past year 9999 in UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    return aware_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


# --- list filters ---------------------------------------------------------------------------------
# A list page's query string goes through one of these forms. A value that does not parse is
# dropped (that filter is off), never handed to a query: `?customer=①` or a NUL must not be a 500.


class FilterText(forms.CharField):
    """Free text: stripped, bounded, no NUL (CharField refuses it; PostgreSQL cannot store it)."""

    def __init__(self, max_length: int = 200, **kwargs):
        super().__init__(max_length=max_length, required=False, **kwargs)


class FilterField(forms.Field):
    """Optional; a value it cannot read becomes None (no filter) in to_python."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)


TIME_FORMAT_HELP = "a date (2026-03-01) or an ISO time (2026-03-01T14:30, 2026-03-01T14:30:00+02:00), in UTC"


class FilterTime(FilterField):
    """An ISO date or time, in UTC when it names no offset. Unreadable input is a form error the
    page shows (and the filter is off), not a silently ignored box. A bare date as the end of a
    range (`end=True`) means the whole of that day: until 2026-03-01 is before 2026-03-02 00:00."""

    def __init__(self, *, end: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end = end

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return None
        if len(value) <= 10:  # a bare date: YYYY-MM-DD
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise forms.ValidationError(f"“{value[:40]}” is not {TIME_FORMAT_HELP}.", code="invalid") from None
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if self.end:
                try:
                    moment += timedelta(days=1)
                except OverflowError:
                    return None  # until the end of 9999-12-31: no bound at all
            return moment
        moment = parse_time(value) if len(value) <= 64 else None
        if moment is None:
            raise forms.ValidationError(f"“{value[:40]}” is not {TIME_FORMAT_HELP}.", code="invalid")
        return moment


class FilterUUID(FilterField):
    def to_python(self, value):
        return parse_uuid(value) if value and len(value) <= 64 else None


def _choice(values) -> forms.ChoiceField:
    return forms.ChoiceField(choices=[("", "")] + [(v, v) for v in values], required=False)


class FilterForm(forms.Form):
    def __init__(self, query):
        super().__init__(query)

    def values(self) -> dict:
        """Every field: its cleaned value, or its blank one when the query's value was refused."""
        self.is_valid()
        return {name: self.cleaned_data[name] if name in self.cleaned_data else field.clean("")
                for name, field in self.fields.items()}


class ByNameFilterForm(FilterForm):
    """A filter form whose connection picker's box (`connection_q`) filters by name."""

    def clean_connection_q(self) -> str:
        q = self.cleaned_data["connection_q"]
        if q and connection_matches_too_many(q=q):
            raise forms.ValidationError(f"more than {MATCH_LIMIT} connections match \u201c{q}\u201d: type more of "
                                        "the name, or pick one.")
        return q


class ConnectionFilterForm(FilterForm):
    q = FilterText()
    status = _choice(Connection.Status.values)
    connector = FilterText(max_length=100)
    customer = FilterText()  # an id (ASCII digits only) or part of a name: connection_search tells


class RunFilterForm(ByNameFilterForm):
    status = _choice(SyncRun.Status.values)
    entity = _choice(ENTITIES)
    trigger = _choice(Trigger.values)
    mode = _choice(["incremental", "full"])
    connection = FilterUUID()
    connection_q = FilterText()  # part of a connection's or its customer's name (the picker's box)
    since = FilterTime()
    until = FilterTime(end=True)


class RecordFilterForm(FilterForm):
    q = FilterText(max_length=200)  # a number (or its start) or a remote id
    deleted = _choice(["live", "deleted"])
    since = FilterTime()


class FailureFilterForm(FilterForm):
    status = _choice(Incident.UNRESOLVED)
    error_code = FilterText(max_length=100)
    connection = FilterUUID()
    connection_q = FilterText()


class AuditFilterForm(ByNameFilterForm):
    source = _choice(AuditEvent.Source.values)
    action = FilterText(max_length=100)
    actor = FilterText()
    connection = FilterUUID()
    connection_q = FilterText()
    request_id = FilterText(max_length=100)
    since = FilterTime()
    until = FilterTime(end=True)


class EndpointFilterForm(FilterForm):
    state = _choice(["enabled", "failing", "disabled"])


class DeliveryFilterForm(FilterForm):
    status = _choice(Delivery.Status.values)
