"""Response headers for the whole site: a logged-in page is never cached, and, when the settings
declare them (production does), a Content-Security-Policy and a Permissions-Policy."""

from django.conf import settings
from django.utils.cache import patch_cache_control

from core.api_errors import API_PREFIX


def csp_header(policy: dict[str, list[str]]) -> str:
    """`{"default-src": ["'self'"], ...}`, the shape of Django 6.0's SECURE_CSP, as a header value."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """`{"camera": [], "fullscreen": ["self"]}` as `camera=(), fullscreen=(self)`: an empty list denies."""
    return ", ".join(f"{feature}=({' '.join(allowed)})" for feature, allowed in policy.items())


def is_private_page(request) -> bool:
    # API routes choose their own caching (no-store on the answers that carry a secret), and
    # static files are the same for everyone.
    if request.path.startswith((API_PREFIX, settings.STATIC_URL)):
        return False
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated)


class SecurityHeadersMiddleware:
    """After AuthenticationMiddleware, so it knows whether the page was rendered for someone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_private_page(request):
            # A logged-in page shows connections, runs and audit: no browser or proxy may keep it,
            # and the back button after logging out must not show it again.
            patch_cache_control(response, no_store=True, private=True)
        add_policies(response)
        return response


def add_policies(response) -> None:
    # Read per response, not at start-up, so a test can turn them on with override_settings.
    csp = getattr(settings, "SECURE_CSP", {})
    permissions = getattr(settings, "PERMISSIONS_POLICY", {})
    if csp:
        response.setdefault("Content-Security-Policy", csp_header(csp))
    if permissions:
        response.setdefault("Permissions-Policy", permissions_policy_header(permissions))
