"""A Dataway stand-in: a real HTTP server (thread) that records and decodes every write.

Use:
    dw = DatawayStandIn(); dw.start()        # dw.url == "http://127.0.0.1:<port>"
    ... point something at f"{dw.url}?token=tkn_..." ...
    dw.wait_points(1000, timeout=30)         # poll until 1000 points arrived (or AssertionError)
    dw.points("logging")                     # decoded offload.Point objects, in arrival order
    dw.requests                              # every Request: method, path, query, headers, body
    dw.fail_with(503) / dw.fail_with(None)   # answer every request with that status / back to 200
    dw.set_down(True)                        # close connections without answering (transport error)

Bodies are gunzipped when Content-Encoding is gzip and decoded by Content-Type
(protobuf PBPoints, else line protocol) with the project's codecs, imported lazily
so the stand-in also works for raw-body tests.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body: bytes  # decompressed
    status: int
    points: list = field(default_factory=list)

    @property
    def category(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def token(self) -> str | None:
        return self.query.get("token")


class DatawayStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._status: int | None = None
        self._down = False
        self._delay = 0.0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                stand_in._handle(self)

            do_PUT = do_POST

            def do_GET(self):
                stand_in._handle(self)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="dataway-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "DatawayStandIn":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_with(self, status: int | None) -> None:
        """Answer every request with `status` (None: back to normal 200s)."""
        self._status = status

    def set_down(self, down: bool) -> None:
        """While down, connections are closed without an answer (a transport error for the client)."""
        self._down = down

    def set_delay(self, seconds: float) -> None:
        self._delay = seconds

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if self._down:
            h.close_connection = True
            try:
                h.connection.shutdown(2)
            except OSError:
                pass
            return
        if self._delay:
            time.sleep(self._delay)
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        body = raw
        enc = headers.get("content-encoding", "")
        try:
            if enc == "gzip":
                body = gzip.decompress(raw)
            elif enc == "deflate":
                body = zlib.decompress(raw)
        except Exception:
            body = b""
        status = self._status or 200
        req = Request(h.command, parts.path, query, headers, raw, body, status)
        if status < 300 and parts.path.startswith("/v1/write/"):
            req.points = _decode(headers.get("content-type", ""), body)
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
        h.send_response(status)
        payload = b"" if status < 300 else b'{"error_code":"stand-in","message":"configured failure"}'
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    # -- queries ---------------------------------------------------------------------------
    def ok_requests(self, path_prefix: str = "/v1/write/") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.status < 300 and r.path.startswith(path_prefix)]

    def points(self, category: str | None = None) -> list:
        out = []
        for r in self.ok_requests():
            if category is None or r.category == category:
                out.extend(r.points)
        return out

    def point_count(self, category: str | None = None) -> int:
        return len(self.points(category))

    def wait_points(self, n: int, category: str | None = None, timeout: float = 30.0) -> list:
        """Block until at least n points arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                count = sum(len(r.points) for r in self.requests
                            if r.status < 300 and r.path.startswith("/v1/write/")
                            and (category is None or r.category == category))
                if count >= n:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"Dataway stand-in got {count} points, wanted {n}, within {timeout}s")
                self._cond.wait(min(left, 0.5))
        return self.points(category)

    def wait_requests(self, n: int, path_prefix: str = "/v1/write/", timeout: float = 30.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.requests if r.path.startswith(path_prefix)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"Dataway stand-in got {len(got)} requests, wanted {n}, within {timeout}s")
                self._cond.wait(min(left, 0.5))


def _decode(content_type: str, body: bytes) -> list:
    if not body:
        return []
    if content_type.startswith("application/protobuf"):
        from offload.codec import protobuf

        return protobuf.decode(body)
    if "application/json" in content_type:
        from offload.codec import jsonpoints

        return jsonpoints.decode(body)
    from offload.codec import lineproto

    return lineproto.decode(body)
