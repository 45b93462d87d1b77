"""Connect links from the dashboard (docs/connect-links.md): "Send a connect link" (its URL shown
once, with a copy button), the list of links with their state, and Revoke."""

from django import forms
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from connections.connect_links import DEFAULT_EXPIRES_IN, connect_link_create, connect_link_revoke
from connections.connectors.entities import ENTITIES
from connections.connectors.registry import connector_catalogue
from connections.models import ConnectLink, Customer
from core.errors import CatalogError
from dashboard.views.common import (
    PERM_MANAGE,
    VIEW_CONNECTIONS,
    action_view,
    actor_for,
    attempt,
    dashboard_view,
    flash_redirect,
    no_store,
    require_perm,
)

DAY = 24 * 3600
LIST_SIZE = 100


class ConnectLinkForm(forms.Form):
    customer_name = forms.CharField(label="Customer", max_length=200,
                                    help_text="An existing customer's name, or a new one.")
    customer_external_id = forms.CharField(label="Customer external id", max_length=200, required=False,
                                           help_text="Your application's id for this customer (optional).")
    connectors = forms.MultipleChoiceField(label="Systems the customer may pick", widget=forms.CheckboxSelectMultiple)
    entities = forms.MultipleChoiceField(label="Entities", required=False, widget=forms.CheckboxSelectMultiple,
                                         choices=[(e, e.replace("_", " ")) for e in ENTITIES],
                                         help_text="None ticked means all that the chosen system has.")
    redirect_url = forms.URLField(label="Redirect to", required=False, assume_scheme="https",
                                  help_text="Where the customer's browser goes after connecting (optional).")
    expires_in_days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=30,
                                         initial=DEFAULT_EXPIRES_IN // DAY)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connectors"].choices = [(c["key"], c["name"]) for c in connector_catalogue()]

    def add_catalog_error(self, exc: CatalogError) -> None:
        for name, problem in ((exc.details or {}).get("fields") or {}).items():
            self.add_error(name if name in self.fields else None, problem)
        if not self.errors:
            self.add_error(None, exc.message)


def _initial(request) -> dict:
    """"Send a connect link" from a customer's connections starts with that customer."""
    customer_id = request.GET.get("customer", "")
    customer = Customer.objects.filter(pk=customer_id).first() if customer_id.isdigit() else None
    if customer is None:
        return {}
    return {"customer_name": customer.name, "customer_external_id": customer.external_id or ""}


def _links() -> list[tuple[ConnectLink, str]]:
    """The newest links, each with its state (active, used, expired, revoked)."""
    now = timezone.now()
    return [(link, link.state(now)) for link in ConnectLink.objects.select_related("customer")[:LIST_SIZE]]


@dashboard_view(VIEW_CONNECTIONS)
def link_list(request):
    return render(request, "dashboard/connect_links.html", {"links": _links()})


@dashboard_view(VIEW_CONNECTIONS)
def link_create(request):
    """GET shows the form; POST creates the link and shows its URL once (rendered, not redirected:
    the URL exists only in this response)."""
    require_perm(request, PERM_MANAGE)
    if request.method != "POST":
        return render(request, "dashboard/connect_link_form.html", {"form": ConnectLinkForm(initial=_initial(request))})
    form = ConnectLinkForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            link, token = connect_link_create(
                customer_name=data["customer_name"], customer_external_id=data["customer_external_id"] or None,
                connectors=data["connectors"], entities=data["entities"], redirect_url=data["redirect_url"],
                expires_in=data["expires_in_days"] * DAY, actor=actor_for(request))
        except CatalogError as exc:
            form.add_catalog_error(exc)
        else:
            url = request.build_absolute_uri(reverse("connect_link", args=[token]))
            return no_store(render(request, "dashboard/connect_link_created.html", {"link": link, "url": url}))
    return render(request, "dashboard/connect_link_form.html", {"form": form}, status=400)


@action_view(PERM_MANAGE, page=VIEW_CONNECTIONS)
def link_revoke(request, link_id):
    link = get_object_or_404(ConnectLink, pk=link_id)
    flash = attempt(lambda: connect_link_revoke(link=link, actor=actor_for(request)),
                    ok_text=f"Revoked the link {link.token_prefix}…: it no longer opens.")
    if request.htmx:
        return render(request, "dashboard/connect_links.html#links", {"links": _links(), "flash": flash})
    return flash_redirect(request, flash, reverse("dashboard:connect_links"))

