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
