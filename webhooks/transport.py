"""The SSRF-safe HTTPS transport for webhook deliveries (docs/webhooks.md).

One POST per call, with these guarantees:

- The host is resolved once per attempt (answers are cached for DNS_CACHE_SECONDS), every
  address is checked against the address policy (`webhooks.netpolicy`) on every attempt, and
  the connection is made to one of *those* addresses: the socket never resolves the name
  again, so a DNS answer that changes between the check and the connect (DNS rebinding)
  cannot reach a private address. TLS still sends the hostname as SNI and checks the
  certificate against it, and the Host header is the hostname, because only the TCP connect
  is pinned (a custom httpcore network backend).
- HTTPS with certificate verification against the default trust store (certifi), plus
  WEBHOOK_CA_BUNDLE when set (development and tests). Plain http only to allow-listed networks.
- One total deadline of WEBHOOK_TIMEOUT_SECONDS for the whole attempt (DNS, connect, TLS,
  send, response headers, the body snippet): every socket operation gets at most the time
  left, so a receiver dripping a byte at a time cannot stretch an attempt past it.
- Redirects are never followed (a 3xx is the receiver's answer, and a failure).
- At most the first 4 KB of the response body is read.

Connection pools are kept per set of pinned addresses, so a kept-alive connection is always one
made to an address that passed the policy: reusing it skips the TCP and TLS handshakes, never
the checks (the addresses are resolved and checked on every call, and the pool is chosen by the
checked addresses; a new connection goes to one of exactly those).

`webhook_posts` sends a batch, every request a `webhook_post` with all of the above: different
hosts at once, one host's requests one after another over its kept-alive connection while it
answers quickly, and over more connections (from the same pinned pool) when it is slow.
"""

import concurrent.futures
import contextvars
import os
import socket
import ssl
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache

import certifi
import httpcore
import httpx
from django.conf import settings

from webhooks.netpolicy import TargetRefused, addresses_check, allowed_networks, url_parse

USER_AGENT = "PlantSync-Webhooks/1.0"
SNIPPET_BYTES = 4096
POOL_CACHE_SIZE = 64
DNS_THREADS = 8
DNS_CACHE_SECONDS = 10.0
DNS_CACHE_SIZE = 1024
# webhook_posts: at most this many requests at once (threads) per calling thread, and how long
# a host's newest request may take before its next one goes out on another connection.
POST_THREADS = 20
LANE_SLOW_SECONDS = 0.01


@dataclass
class PostResult:
    status_code: int | None = None
    duration_ms: int = 0
    error: str = ""
    # True when policy refused the target: no connection was attempted and retrying is pointless.
    refused: bool = False
    retry_after: float | None = None
    location: str = ""
    remote_address: str = ""
    response_snippet: str = ""
    request_headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


# --- the total deadline ----------------------------------------------------------------------

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("webhook_deadline", default=None)


def _time_left(timeout: float | None, exc_type: type[Exception]) -> float | None:
    """The socket timeout for one operation: the phase timeout capped by the attempt's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc_type("the attempt's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # server_hostname is the URL's host, not the pinned address: SNI and certificate checks
        # are against the name the endpoint was registered with.
        inner = self._inner.start_tls(ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the pre-checked addresses, whatever host httpcore asks for."""

    def __init__(self, addresses: tuple[str, ...]):
        self.addresses = addresses
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self.addresses:
            try:
                stream = self._sync.connect_tcp(address, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectTimeout:
                raise
            except httpcore.ConnectError as exc:  # try the next checked address, as browsers do
                last_error = exc
        raise last_error or httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    def sleep(self, seconds: float) -> None:  # pragma: no cover
        time.sleep(seconds)


class _ByteStream(httpx.SyncByteStream):
    def __init__(self, stream):
        self._stream = stream

    def __iter__(self):
        yield from self._stream

    def close(self) -> None:
        if hasattr(self._stream, "close"):
            self._stream.close()


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport whose every connection goes to `addresses` (already policy-checked)."""

    def __init__(self, *, addresses: tuple[str, ...], ssl_context: ssl.SSLContext):
        self.addresses = addresses
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=50, max_keepalive_connections=20, keepalive_expiry=5.0,
            http1=True, http2=False, retries=0, network_backend=_PinnedBackend(addresses))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        response = self._pool.handle_request(core_request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ByteStream(response.stream), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


# --- TLS and the pool cache ------------------------------------------------------------------

@lru_cache(maxsize=4)
def _ssl_context(ca_bundle: str, ca_mtime: float) -> ssl.SSLContext:
    # The extra bundle is added to the default trust store, never instead of it.
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def ssl_context() -> ssl.SSLContext:
    bundle = settings.WEBHOOK_CA_BUNDLE or ""
    mtime = os.stat(bundle).st_mtime if bundle else 0.0
    return _ssl_context(bundle, mtime)


class _TransportCache:
    """At most POOL_CACHE_SIZE transports, least recently used dropped first (its sockets close
    when the last request using it finishes)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def get(self, addresses: tuple[str, ...], context: ssl.SSLContext) -> PinnedTransport:
        key = (addresses, id(context))
        with self._lock:
            transport = self._items.get(key)
            if transport is None:
                transport = self._items[key] = PinnedTransport(addresses=addresses, ssl_context=context)
                while len(self._items) > POOL_CACHE_SIZE:
                    self._items.popitem(last=False)
            else:
                self._items.move_to_end(key)
            return transport

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_transports = _TransportCache()
_dns_executor: concurrent.futures.ThreadPoolExecutor | None = None
_dns_lock = threading.Lock()
_dns_cache: dict[tuple[str, int], tuple[float, list[str]]] = {}
# The sending threads of webhook_posts, per calling thread: a threaded worker pool's tasks
# never queue behind each other's requests (the claim's lock assumes each starts at once).
_senders = threading.local()


def _after_fork():
    # Celery's prefork children must not share the parent's sockets or threads.
    global _dns_executor, _senders
    _transports.__init__()
    _dns_executor = None
    _dns_cache.clear()
    _senders = threading.local()


os.register_at_fork(after_in_child=_after_fork)


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """The host's addresses, from a short-lived cache or getaddrinfo.

    The cache holds raw answers, never policy decisions: every attempt checks the addresses it
    is about to use against the current policy, so a cached answer cannot let anything through
    that a fresh one would not. It saves a lookup (and a thread hop) per attempt to a busy host.
    """
    key = (host, port)
    cached = _dns_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    addresses = _getaddrinfo(host, port, timeout)
    with _dns_lock:
        if len(_dns_cache) >= DNS_CACHE_SIZE:
            _dns_cache.clear()
        _dns_cache[key] = (time.monotonic() + DNS_CACHE_SECONDS, addresses)
    return addresses


def _getaddrinfo(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo with a timeout (it has none of its own), run in a small thread pool."""
    global _dns_executor
    with _dns_lock:
        if _dns_executor is None:
            _dns_executor = concurrent.futures.ThreadPoolExecutor(DNS_THREADS, thread_name_prefix="webhook-dns")
        future = _dns_executor.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(timeout, 0.001))
    except concurrent.futures.TimeoutError:
        raise httpx.ConnectTimeout(f"resolving {host} took longer than the deadline") from None
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"could not resolve {host}: {exc.strerror or exc}") from None
    # Keep the resolver's order (it sorts by RFC 6724 preference), without duplicates.
    return list(dict.fromkeys(info[4][0] for info in infos))


def target_addresses(url: str, *, deadline: float | None = None) -> tuple[str, list[str]]:
    """(host, addresses to connect to) for a URL, resolving its host once; raises TargetRefused.

    Literal IP hosts are checked without any lookup, so a refused literal never causes traffic.
    """
    target = url_parse(url)
    if target.literal:
        candidates = [target.host]
    else:
        left = (deadline - time.monotonic()) if deadline else settings.WEBHOOK_TIMEOUT_SECONDS
        candidates = _resolve(target.host, target.port, left)
    return target.host, addresses_check(candidates, scheme=target.scheme, host=target.host,
                                        allowed=allowed_networks())


# --- the one public call ---------------------------------------------------------------------

def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _describe(exc: BaseException, timeout: float) -> str:
    return _describe_raw(exc, timeout).replace("..", ".")


def _describe_raw(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (httpx.TimeoutException, httpcore.TimeoutException)):
        return f"Timed out: no complete response within {timeout:g} s ({exc or type(exc).__name__})."
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message or cause}."
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause}."
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, (httpx.ConnectError, httpcore.ConnectError)):
        return f"Could not connect: {exc}."
    if isinstance(exc, (httpx.HTTPError, httpcore.NetworkError, httpcore.ProtocolError)):
        return f"{type(exc).__name__}: {exc}."
    return f"Unexpected error: {type(exc).__name__}: {exc}."


def webhook_post(*, url: str, body: bytes, headers: dict[str, str], timeout: float | None = None) -> PostResult:
    """POSTs `body` to `url` under every rule above; never raises for network or policy errors."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()
    deadline = started + timeout
    request_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                       # Only the first 4 KB are kept; identity encoding keeps a compressed body
                       # from expanding in memory first.
                       "Accept-Encoding": "identity", **headers}
    result = PostResult(request_headers=request_headers)
    token = _deadline.set(deadline)
    try:
        host, addresses = target_addresses(url, deadline=deadline)
        transport = _transports.get(tuple(addresses), ssl_context())
        request = httpx.Request("POST", url, content=body, headers=request_headers)
        # Per-phase timeouts are the whole budget; the deadline above is what really bounds it.
        request.extensions["timeout"] = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        response = transport.handle_request(request)
        try:
            result.status_code = response.status_code
            snippet = bytearray()
            for chunk in response.stream:
                snippet += chunk
                if len(snippet) >= SNIPPET_BYTES:
                    break
            result.response_snippet = bytes(snippet[:SNIPPET_BYTES]).decode("utf-8", errors="replace")
            network_stream = response.extensions.get("network_stream")
            peer = network_stream.get_extra_info("server_addr") if network_stream else None
            result.remote_address = peer[0] if peer else addresses[0]
            if response.status_code in (429, 503):
                result.retry_after = _retry_after(response.headers.get("Retry-After"))
            if 300 <= response.status_code < 400:
                result.location = response.headers.get("Location", "")[:500]
        finally:
            response.close()
    except TargetRefused as exc:
        result.error, result.refused = str(exc), True
    except Exception as exc:  # every failure is recorded on the attempt
        result.error = _describe(exc, timeout)
    finally:
        _deadline.reset(token)
        result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


@dataclass(frozen=True)
class Post:
    url: str
    body: bytes
    headers: dict[str, str]


def _host_key(url: str) -> tuple:
    try:
        target = url_parse(url)
    except TargetRefused:
        return (url,)  # webhook_post records the refusal
    return (target.scheme, target.host, target.port)


def webhook_posts(posts: list[Post]) -> list[PostResult]:
    """`webhook_post` for each, the results in the same order; requests to different hosts at once.

    Requests to one host go one after another over a kept-alive connection (a lane) as long as
    they are quick; whenever the newest request of a host has been waiting longer than
    LANE_SLOW_SECONDS and more are queued for it, the host gets another lane (another
    connection), up to POST_THREADS lanes in all. So a fast receiver costs no thread switching,
    and slow or dead ones get their requests in flight together: the whole call takes at most
    about WEBHOOK_TIMEOUT_SECONDS + len(posts) * LANE_SLOW_SECONDS while there are no more
    posts than threads.
    """
    if not posts:
        return []
    results: list[PostResult | None] = [None] * len(posts)
    queues: dict[tuple, deque[int]] = {}
    for index, post in enumerate(posts):
        queues.setdefault(_host_key(post.url), deque()).append(index)
    newest: dict[tuple, float] = {}  # per host: when its newest request started
    changed = threading.Condition()
    state = {"left": len(posts), "lanes": 0}

    def lane(key: tuple) -> None:
        while True:
            with changed:
                if not queues[key]:
                    return
                index = queues[key].popleft()
                newest[key] = time.monotonic()
            post = posts[index]
            try:
                result = webhook_post(url=post.url, body=post.body, headers=post.headers)
            except BaseException as exc:  # webhook_post records its errors; never strand the caller
                result = PostResult(error=f"Unexpected error: {type(exc).__name__}: {exc}.")
            with changed:
                results[index] = result
                state["left"] -= 1
                if not state["left"]:
                    changed.notify_all()

    executor = getattr(_senders, "executor", None)
    if executor is None:
        executor = _senders.executor = concurrent.futures.ThreadPoolExecutor(
            POST_THREADS, thread_name_prefix="webhook-post")

    def lane_start(key: tuple) -> None:
        state["lanes"] += 1
        newest[key] = time.monotonic()
        executor.submit(lane, key)

    with changed:
        for key in queues:
            lane_start(key)
        while state["left"]:
            changed.wait(LANE_SLOW_SECONDS)
            now = time.monotonic()
            for key, queue in queues.items():
                if queue and state["lanes"] < POST_THREADS and now - newest[key] >= LANE_SLOW_SECONDS:
                    lane_start(key)
    return results


def url_validate(url: str) -> None:
    """The checks that need no network, for creating an endpoint; raises TargetRefused."""
    target = url_parse(url)
    if target.literal:
        addresses_check([target.host], scheme=target.scheme, host=target.host, allowed=allowed_networks())
    elif target.scheme == "http" and not allowed_networks():
        raise TargetRefused("Plain http:// is refused: endpoints must use https://.")


def transports_reset() -> None:
    """Drops pooled connections and cached DNS answers (tests switch CAs, allow-lists and resolvers)."""
    _transports.clear()
    with _dns_lock:
        _dns_cache.clear()
