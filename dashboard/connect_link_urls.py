"""The dashboard's connect-link pages, included under /connect-links/ by dashboard/urls.py."""

from django.urls import path

from dashboard.views import connect_links

urlpatterns = [
    path("", connect_links.link_list, name="connect_links"),
    path("new", connect_links.link_create, name="connect_link_create"),
    path("<uuid:link_id>/revoke", connect_links.link_revoke, name="connect_link_revoke"),
]
