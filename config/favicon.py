"""/favicon.ico: browsers ask for it on every page whatever the page links, so it answers with a
redirect to the static icon instead of a 404 in every page's log."""

from django.shortcuts import redirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    # static() is asked per request: with the manifest storage it names the hashed file.
    return redirect(static("favicon.svg"), permanent=True)
