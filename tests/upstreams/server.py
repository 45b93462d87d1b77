"""A scriptable HTTP server on loopback, for tests of the upstream toolkit's real client.

    with ScriptedServer() as server:
        server.route("GET", "/items", lambda req: Reply(200, {"items": []}))
        client = UpstreamClient(base_url=server.url)

A handler gets the `Received` request and returns a `Reply` (a dict or list body is sent as
JSON; `delay` sleeps before answering). Unrouted paths answer 404. Every request is recorded in
`server.received`. `serve(handler_class)` starts any BaseHTTPRequestHandler on a free port.
"""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")

    def form(self) -> dict:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class Reply:
    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def serve(handler_class: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Starts the handler on a free port in a daemon thread; call shutdown() and server_close()."""
    server = ThreadingHTTPServer((host, 0), handler_class)
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for it, once per test.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class ScriptedServer:
    def __init__(self):
        self.routes: dict[tuple[str, str], Callable[[Received], Reply]] = {}
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, path: str, handler: Callable[[Received], Reply] | Reply) -> None:
        self.routes[(method, path)] = handler if callable(handler) else (lambda req, reply=handler: reply)

    def script(self, method: str, path: str, replies: list[Reply]) -> None:
        """Answers with each reply in turn, then repeats the last."""
        queue = list(replies)

        def handler(req):
            return queue.pop(0) if len(queue) > 1 else queue[0]
        self.route(method, path, handler)

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.received if r.method == method and r.path == path)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ScriptedServer":
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet in test output
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                received = Received(self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers.items()),
                                    self.rfile.read(length) if length else b"")
                scripted.received.append(received)
                handler = scripted.routes.get((self.command, parts.path))
                reply = handler(received) if handler else Reply(404, {"error": "no route"})
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                headers = dict(reply.headers)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers.setdefault("Content-Type", "application/json")
                elif isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LoopbackHandler(BaseHTTPRequestHandler):
    """The request handler of a `LoopbackSimulator`: HTTP/1.1, quiet, with `sim` set to the
    simulator it serves (on a subclass made per instance)."""

    sim: "LoopbackSimulator"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet in tests
        pass

    def _parse(self):
        """The request's path parts and its query (blank values kept)."""
        parts = urlsplit(self.path)
        return parts, dict(parse_qsl(parts.query, keep_blank_values=True))

    def _send(self, status: int, headers: dict, payload: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up


class LoopbackSimulator:
    """The server half of an upstream simulator: a ThreadingHTTPServer on loopback whose handler
    (`handler_class`, subclassed per instance with `sim` set to the simulator) answers requests,
    a log of them in `requests`, and a queue of injected faults.

    A subclass sets `handler_class`, `thread_name`, the `fault_kinds` its `inject` accepts and
    `url_path`, the path its `url` ends with (e.g. an API context root); it calls
    `super().__init__()` before its own setup."""

    handler_class: type[LoopbackHandler]
    thread_name = "loopback-simulator"
    fault_kinds: tuple[str, ...] = ()
    url_path = ""

    def __init__(self):
        self.requests: list[dict] = []  # every request: method, path, query, status, ...
        self._faults: list[dict] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.url_path}"

    def start(self, host: str = "127.0.0.1", port: int = 0):
        handler = type("Handler", (self.handler_class,), {"sim": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def serve_until_interrupted(self) -> None:
        """For running by hand: serves until Ctrl-C, then stops."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def inject(self, kind: str, *, count: int = 1, after: int = 0, retry_after: int = 1) -> None:
        """Answers `count` requests with a fault of `kind` (one of `fault_kinds`), after `after`
        more have been answered normally."""
        if kind not in self.fault_kinds:
            raise ValueError(kind)
        with self._lock:
            self._faults.append({"kind": kind, "count": count, "after": after, "retry_after": retry_after})

    def data_requests(self, name: str | None = None) -> list[dict]:
        """The GET requests answered with data (status 200), optionally those whose path ends in
        `/name` (an entity set, an object structure)."""
        return [r for r in self.requests if r["method"] == "GET" and r["status"] == 200
                and (name is None or r["path"].endswith("/" + name))]

    def _next_fault(self) -> dict | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault["after"] > 0:
                fault["after"] -= 1
                return None
            fault["count"] -= 1
            if fault["count"] <= 0:
                self._faults.pop(0)
            return fault
