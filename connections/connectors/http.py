"""The HTTP client every upstream connector uses (docs/architecture.md, "The upstream toolkit").

One `UpstreamClient` per connector instance, that is per run: a pooled httpx client with the
timeouts of UPSTREAM_TIMEOUT_SECONDS, a User-Agent naming the product and version, the outbound
policy checked on every new connection (`connections.connectors.outbound`), the connection's
request budget (`connections.connectors.budget`) and every failure turned into a catalogued
`UpstreamError`:

- 401: the auth gets one `renew()` and the request is sent again; a second 401 is
  UPSTREAM_AUTHENTICATION_FAILED. 403: UPSTREAM_PERMISSION_DENIED. 404: UPSTREAM_NOT_FOUND.
- 429: UPSTREAM_RATE_LIMITED with Retry-After (seconds or an HTTP date) as retry_after.
- 408, 5xx, timeouts: UPSTREAM_SERVER_ERROR; connect errors: UPSTREAM_UNREACHABLE (retryable).
- other 4xx and 3xx (redirects are not followed): UPSTREAM_REQUEST_REJECTED.
- an address refused by the outbound policy: UPSTREAM_ADDRESS_REFUSED (not retried).

Every secret the client knows (given, held by the auth, the Authorization header) is redacted
from messages, details and log lines. Environment proxies are ignored (trust_env=False): the
outbound policy must judge the upstream's address, not a proxy's.
"""

import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import httpx
from django.conf import settings

from connections.connectors.auth import Auth, BasicAuth, HeaderKeyAuth, OAuth2ClientCredentials, SessionAuth
from connections.connectors.base import UpstreamError
from connections.connectors.budget import RequestBudget
from connections.connectors.outbound import AddressRefused, PolicyBackend

__all__ = ["Auth", "BasicAuth", "HeaderKeyAuth", "OAuth2ClientCredentials", "SessionAuth", "UpstreamClient",
           "retry_after_parse"]

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 200
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter "secrets" would redact ordinary words and leak next to nothing


def _version() -> str:
    try:
        return metadata.version("plantsync")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"PlantSync/{_version()} (+https://github.com/plantsync)"


def retry_after_parse(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def same_host_link(base_url: str, link: str, *, system: str) -> str:
    """A next-page link made absolute, only if it stays on the configured host: a link elsewhere
    would carry the connection's credentials to whoever wrote it."""
    url = urljoin(base_url + "/", link)
    mine, theirs = urlsplit(base_url), urlsplit(url)
    if (theirs.scheme, theirs.netloc.lower()) != (mine.scheme, mine.netloc.lower()):
        raise UpstreamError("UPSTREAM_INVALID_RESPONSE",
                            f"{system}'s next-page link points to another host ({theirs.netloc[:100]}).")
    return url


class UpstreamClient:
    def __init__(self, *, base_url: str, auth: Auth | None = None, connection_id=None,
                 requests_per_minute: int | None = None,
                 error_message: Callable[[httpx.Response], str | None] | None = None, secrets: Iterable[str] = (),
                 headers: dict | None = None, verify: bool = True):
        self.base_url = base_url
        self.auth = auth
        self.connection_id = connection_id
        self.error_message = error_message
        self._secrets = [s for s in secrets if isinstance(s, str)]
        self.budget = RequestBudget(connection_id=connection_id, requests_per_minute=requests_per_minute) \
            if requests_per_minute else None
        timeout = float(settings.UPSTREAM_TIMEOUT_SECONDS)
        transport = httpx.HTTPTransport(verify=verify, retries=0)
        # The outbound policy sits in httpcore's network backend, so every new connection (and
        # only checked addresses) is made through it; pooled connections were checked when made.
        # httpx has no public hook for it: tests/connections/test_http_client.py fails if this breaks.
        pool = transport._pool
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx changed: the outbound policy cannot be installed")
        pool._network_backend = PolicyBackend(pool._network_backend)
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=httpx.Timeout(timeout),
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
                                  follow_redirects=False, trust_env=False)
        self._timeout = timeout

    # --- sending ------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, params=None, json=None, data=None, headers=None,
                resource: str | None = None) -> httpx.Response:
        """Sends the request; a non-2xx answer raises a catalogued UpstreamError."""
        return self.exchange(method, url, params=params, json=json, data=data, headers=headers, resource=resource)

    def json(self, method: str, url: str, **kwargs) -> Any:
        """request() and the body parsed as JSON (fractions as Decimal, never float); a body that
        is not JSON is UPSTREAM_INVALID_RESPONSE. A 204 gives None."""
        response = self.request(method, url, **kwargs)
        if response.status_code == 204:
            return None
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type and "json" not in content_type:
            raise self._invalid(response, f"expected JSON, got {content_type}")
        try:
            return jsonlib.loads(response.text, parse_float=Decimal)
        except ValueError as exc:
            reason = "an empty body" if not response.content else f"invalid JSON ({exc.msg} at char {exc.pos})"
            raise self._invalid(response, reason) from None

    def exchange(self, method: str, url: str, *, params=None, json=None, data=None, headers=None,
                 resource: str | None = None, authenticate: bool = True,
                 raise_for_status: bool = True) -> httpx.Response:
        """request() with two switches for auths: `authenticate=False` sends no credentials (a login
        or token request), `raise_for_status=False` hands back any answer."""
        renewed = False
        while True:
            response = self._send(method, url, params=params, json=json, data=data, headers=headers,
                                  authenticate=authenticate)
            if (response.status_code == 401 and authenticate and self.auth is not None and not renewed
                    and raise_for_status):
                response.close()
                renewed = True
                if self.auth.renew(self):
                    continue
            if raise_for_status:
                self.raise_for_status(response, resource=resource)
            return response

    def _send(self, method, url, *, params, json, data, headers, authenticate) -> httpx.Response:
        request = self._http.build_request(method, url, params=params, json=json, data=data, headers=headers)
        if authenticate and self.auth is not None:
            self.auth.apply(request, self)
        where = self.redact(f"{method} {request.url.copy_with(query=None)}")
        if self.budget is not None:
            self.budget.take()
        started = time.monotonic()
        try:
            response = self._http.send(request)
            response.read()
        except AddressRefused as exc:
            logger.warning("upstream %s refused: %s", where, exc)
            raise UpstreamError("UPSTREAM_ADDRESS_REFUSED", str(exc), details={"request": where}) from None
        except httpx.TimeoutException as exc:
            code = "UPSTREAM_UNREACHABLE" if isinstance(exc, httpx.ConnectTimeout) else "UPSTREAM_SERVER_ERROR"
            message = f"The upstream system did not answer within {self._timeout:g} s ({type(exc).__name__})."
            logger.warning("upstream %s: %s", where, message)
            raise UpstreamError(code, message, details={"request": where}) from None
        except httpx.TransportError as exc:
            connect = isinstance(exc, httpx.ConnectError)
            code = "UPSTREAM_UNREACHABLE" if connect else "UPSTREAM_SERVER_ERROR"
            reason = self.redact(str(exc) or type(exc).__name__)[:SNIPPET_CHARS]
            what = "could not be reached" if connect else "broke off the exchange"
            logger.warning("upstream %s: %s", where, reason)
            raise UpstreamError(code, f"The upstream system {what}: {reason}", details={"request": where}) from None
        if authenticate and "Authorization" in request.headers:
            self._remember(request.headers["Authorization"])
        if self.budget is not None:
            self.budget.observe(response)
        logger.debug("upstream %s -> %s in %d ms", where, response.status_code, (time.monotonic() - started) * 1000)
        return response

    # --- errors ------------------------------------------------------------------------------

    def raise_for_status(self, response: httpx.Response, *, resource: str | None = None) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        retry_after = None
        if status == 401:
            code, generic = "UPSTREAM_AUTHENTICATION_FAILED", "The upstream system rejected the credentials"
        elif status == 403:
            code, generic = "UPSTREAM_PERMISSION_DENIED", "The upstream user may not read this"
        elif status == 404:
            code, generic = "UPSTREAM_NOT_FOUND", "The upstream system has no such resource"
        elif status == 429:
            code, generic = "UPSTREAM_RATE_LIMITED", "The upstream system is rate limiting us"
            retry_after = retry_after_parse(response.headers.get("Retry-After"))
        elif status == 408 or status >= 500:
            code, generic = "UPSTREAM_SERVER_ERROR", "The upstream system answered with an error"
            retry_after = retry_after_parse(response.headers.get("Retry-After"))
        elif 300 <= status < 400:
            code = "UPSTREAM_REQUEST_REJECTED"
            generic = f"The upstream system redirected to {response.headers.get('Location', '?')[:100]}; " \
                      "set the URL to the address it redirects to"
        else:
            code, generic = "UPSTREAM_REQUEST_REJECTED", "The upstream system refused the request"
        message = None
        if self.error_message is not None:
            try:
                message = self.error_message(response)
            except Exception:  # a connector's parser must not hide the real failure
                logger.exception("upstream error_message parser failed")
        if not message:
            message = f"{generic} (HTTP {status}{f', {resource}' if resource else ''})."
        elif resource:
            message = f"{message} ({resource}, HTTP {status})"
        details = {"status": status, "body": self.snippet(response),
                   "request": f"{response.request.method} {response.request.url.copy_with(query=None)}"}
        if resource:
            details["resource"] = resource
        error = UpstreamError(code, self.redact(str(message))[:500], details=self.redact_details(details),
                              retry_after=retry_after)
        logger.warning("upstream %s -> %s: %s", error.details["request"], status, error.message)
        raise error

    def _invalid(self, response: httpx.Response, reason: str) -> UpstreamError:
        details = self.redact_details({"status": response.status_code, "body": self.snippet(response),
                                       "content_type": response.headers.get("Content-Type", "")})
        logger.warning("upstream invalid response: %s", reason)
        return UpstreamError("UPSTREAM_INVALID_RESPONSE",
                             f"The upstream system sent a response we could not read: {reason}.", details=details)

    def snippet(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except Exception:  # an undecodable body still gets a snippet
            text = response.content.decode("utf-8", "replace")
        return self.redact(" ".join(text[:SNIPPET_CHARS * 4].split()))[:SNIPPET_CHARS]

    # --- redaction ---------------------------------------------------------------------------

    def _remember(self, value: str) -> None:
        if value not in self._secrets:
            self._secrets.append(value)

    def _all_secrets(self) -> list[str]:
        found = list(self._secrets) + (self.auth.secrets() if self.auth is not None else [])
        variants = set()
        for secret in found:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                variants.update({secret, quote(secret, safe=""), quote_plus(secret)})
        return sorted(variants, key=len, reverse=True)  # longest first: a secret inside another goes too

    def redact(self, text: str) -> str:
        for secret in self._all_secrets():
            text = text.replace(secret, REDACTED)
        return text

    def redact_details(self, details: dict) -> dict:
        return {key: self.redact(value) if isinstance(value, str) else value for key, value in details.items()}

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
