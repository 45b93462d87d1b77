"""Form fields generated from a connector's declared fields (ConfigField), shared by the
dashboard's connect and credentials forms and the admin's connection form, so both accept and
refuse what Connector.validate does (docs/architecture.md, "The Django admin")."""

from django import forms

from connections.connectors.base import JSON_TYPES, ConfigField
from core.errors import CatalogError


class BoundedJSONField(forms.JSONField):
    """JSON text nested too deep for the parser is a form error, not a crash (the services
    bound depth and size of what parses: core/json_limits.py)."""

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:
            raise forms.ValidationError("nested too deep", code="invalid") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


def _json_types_validator(spec: ConfigField):
    """The JSON types the field declares (ConfigField.json_types), as Connector.validate checks them."""
    accepted = tuple(JSON_TYPES[t] for t in spec.json_types)

    def validate(value) -> None:
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise forms.ValidationError(f"expected {' or '.join(spec.json_types)}", code="invalid")
    return validate


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
        return BoundedJSONField(initial=spec.default, widget=forms.Textarea(attrs={"rows": 2}),
                                validators=[_json_types_validator(spec)], **common)
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
