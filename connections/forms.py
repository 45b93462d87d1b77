"""Form fields generated from a connector's declared fields (ConfigField), shared by the
dashboard's connect and credentials forms and the admin's connection form, so both accept and
refuse what Connector.validate does (docs/architecture.md, "The Django admin")."""

from django import forms

from connections.connectors.base import JSON_TYPES, ConfigField
from core.errors import CatalogError

# A JSON type as a person at the form reads it (ConfigField.json_types names them as JSON does).
JSON_TYPE_WORDS = {"object": "a JSON object such as {\"key\": 1}", "array": "a JSON list such as [\"a\", \"b\"]",
                   "number": "a number", "string": "text"}


class DeclaredJSONField(forms.JSONField):
    """A `json` ConfigField: any JSON value of the types it declares (json_types, as
    Connector.validate checks them). Where text is one of them, input that is not JSON is taken as
    that text (`BEDFORD` for `"BEDFORD"`). Nesting too deep for the parser is a form error, not a
    crash (the services bound depth and size of what parses: core/json_limits.py)."""

    def __init__(self, *, spec: ConfigField, **kwargs):
        self.json_types = tuple(spec.json_types)
        wanted = " or ".join(JSON_TYPE_WORDS[t] for t in self.json_types)
        # The "invalid" message is Django's for any ValidationError coded so: say what to enter instead.
        self.expected = f"Enter {wanted}" + (f", for example {spec.example}." if spec.example else ".")
        super().__init__(error_messages={"invalid": self.expected}, **kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError("This is nested too deeply.", code="nested") from None
        except forms.ValidationError:
            if "string" in self.json_types and isinstance(value, str):
                return value.strip()
            raise

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)

    def validate(self, value) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        accepted = tuple(JSON_TYPES[t] for t in self.json_types)
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise forms.ValidationError(self.expected, code="json_type")


def connector_form_field(spec: ConfigField) -> forms.Field:
    """One form field per declared ConfigField: its kind, choices, bounds and help with the example."""
    required = spec.required and spec.default is None
    common = {"label": spec.label, "required": required, "help_text": spec.help_text}
    if spec.choices:
        choices = list(spec.choices) if required else [("", "—"), *spec.choices]
        return forms.ChoiceField(choices=choices, initial=spec.default, **common)
    if spec.kind in ("integer", "number"):
        # min_value/max_value validate and render as the input's min and max attributes.
        field_class = forms.IntegerField if spec.kind == "integer" else forms.FloatField
        return field_class(initial=spec.default, min_value=spec.min_value, max_value=spec.max_value, **common)
    if spec.kind == "boolean":
        return forms.BooleanField(initial=bool(spec.default), **{**common, "required": False})
    if spec.kind == "url":
        return forms.URLField(initial=spec.default, assume_scheme="https",
                              widget=forms.URLInput(attrs={"placeholder": spec.example} if spec.example else {}),
                              **common)
    if spec.kind == "json":
        return DeclaredJSONField(spec=spec, initial=spec.default, widget=forms.Textarea(attrs={"rows": 2}), **common)
    if spec.kind == "password":
        # Never echoed back into the page: after a failed submit the secret is typed again.
        return forms.CharField(widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}), **common)
    return forms.CharField(initial=spec.default, **common)


class ConnectorFieldsMixin:
    """Connector fields named `<group>__<name>`; catalogued errors put back on the fields they name."""

    def add_connector_fields(self, group: str, specs) -> None:
        for spec in specs:
            self.fields[f"{group}__{spec.name}"] = connector_form_field(spec)

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
        """Puts VALIDATION_FAILED field errors ("config.seed") on their fields, and a failed
        connection test on the fields it concerns (failure_fields); the rest on the form."""
        for key, message in ((exc.details or {}).get("fields") or {}).items():
            name = key.replace(".", "__", 1)
            if name in self.fields:
                self.add_error(name, _sentence(message))
            else:
                self.add_error(None, f"{key}: {message}")
        if not self.errors:
            for name, message in self.failure_fields(exc.code).items():
                self.add_error(name, message)
        if not self.errors:
            self.add_error(None, exc.message)

    def failure_fields(self, code: str) -> dict[str, str]:
        """{form field: message} for an upstream refusal, by its catalogued code: a rejected login
        marks the credentials, a system that cannot be reached (or may not be) marks its URL."""
        if code == "UPSTREAM_AUTHENTICATION_FAILED":
            return {name: "The system rejected these credentials: check this value."
                    for name in self.fields if name.startswith("credentials__")}
        if code in URL_FAILURES:
            return {name: URL_FAILURES[code] for name, field in self.fields.items()
                    if name.startswith("config__") and isinstance(field, forms.URLField)}
        return {}


URL_FAILURES = {
    "UPSTREAM_UNREACHABLE": "The system could not be reached at this address: check it, and that the system is up.",
    "UPSTREAM_ADDRESS_REFUSED": "This address is not allowed by the outbound policy: use the system's own address.",
    "UPSTREAM_NOT_FOUND": "The system answered, but has no such API at this address: check it.",
}


def _sentence(message: str) -> str:
    """A service's field message ("this field is required") as the form shows it."""
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")
