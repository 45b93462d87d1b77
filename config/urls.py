from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api_v1 import api
from config.favicon import favicon
from config.health import healthz
from dashboard.views import connect_link_public as link

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # The page at a connect link: outside the staff login (docs/connect-links.md).
    path("link/done/", link.link_done, name="connect_link_done"),
    path("link/<str:token>/", link.link_page, name="connect_link"),
    path("link/<str:token>/test", link.link_test, name="connect_link_test"),
    path("link/<str:token>/connect", link.link_connect, name="connect_link_connect"),
    path("", include("dashboard.urls")),
]
