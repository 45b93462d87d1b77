"""API responses that carry a secret: a connection token or a webhook signing secret, shown once."""

from django.views.decorators.cache import never_cache
from ninja.decorators import decorate_view

# No cache, shared or the client's own, may keep such an answer: never_cache sends
# `Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`.
secret_response = decorate_view(never_cache)
