from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.api_v1 import api
from config.favicon import favicon
from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("dashboard.urls")),
]
