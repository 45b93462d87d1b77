"""A real HTTPS webhook receiver on 127.0.0.1 for tests: scripted answers, every request recorded."""

import http.server
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0  # seconds before answering at all
    drip: float = 0.0  # seconds spent sending the headers one byte at a time


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float
    status: int  # what this receiver answered


class Receiver:
    def __init__(self, *, server_context: ssl.SSLContext, host: str = "127.0.0.1", port: int = 0):
        self.requests: list[Received] = []
        self.sni_names: list[str | None] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server_context.sni_callback = self._sni
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = receiver._next_reply()
                with receiver._lock:
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.time(), reply.status))
                if reply.delay and receiver._stopping.wait(reply.delay):
                    return
                head = f"HTTP/1.1 {reply.status} X\r\n".encode()
                headers = {"Content-Type": "application/json", "Content-Length": str(len(reply.body)),
                           **reply.headers}
                head += b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
                try:
                    if reply.drip:
                        pause = reply.drip / len(head)
                        for i in range(len(head)):
                            self.wfile.write(head[i:i + 1])
                            self.wfile.flush()
                            if receiver._stopping.wait(pause):
                                return
                        self.wfile.write(reply.body)
                    else:
                        # One write: a separate small body write would wait for a delayed ACK (Nagle).
                        self.wfile.write(head + reply.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    self.close_connection = True

            do_GET = do_PUT = do_POST

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # failed handshakes are what some tests cause on purpose

        self.server = Server((host, port), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.server.server_bind()
        self.server.server_activate()
        # The handshake happens in the handler thread, not in accept(), so a slow client
        # cannot stall the accept loop.
        self.server.socket = server_context.wrap_socket(self.server.socket, server_side=True,
                                                        do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def _sni(self, ssl_socket, server_name, context):
        self.sni_names.append(server_name)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def script(self, *replies: Reply) -> None:
        """Answers the next requests with these replies, in order, then with `default`."""
        with self._lock:
            self._script.extend(replies)

    def url(self, path: str = "/hook", host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests within {timeout}s, got {len(self.requests)}")

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


def unused_port() -> int:
    """A loopback port with nothing listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
