"""Run an AggregateService behind a real uvicorn server in a thread, with a real Dataway writer.

    with ServiceServer(cfg, dataway_url, clock=FakeClock(T0)) as srv:
        httpx.post(f"{srv.url}/v1/aggregate?token=...", content=body)
        srv.clock.advance(20)           # the 1 s tick (here 0.05 s) flushes what expired
"""

from __future__ import annotations

import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Callable

import uvicorn
from starlette.applications import Starlette

from offload.dataway import DatawayConfig, DatawayWriter
from receiver.aggregate import AggregateConfig, AggregateService

DEFAULT_TOKEN = "tkn_" + "0" * 32


class FakeClock:
    """A settable Unix-seconds clock shared between the test thread and the server thread."""

    def __init__(self, now: float) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LateWriter:
    """The writer is built inside the server's event loop; the service is built before it."""

    def __init__(self) -> None:
        self.inner: Any = None

    async def write(self, category, points, token=None):
        return await self.inner.write(category, points, token=token)


class ServiceServer:
    def __init__(self, cfg: AggregateConfig, dataway_url: str, *, clock: Callable[[], float] | None = None,
                 state_dir: Path | None = None, auth: Callable | None = None, writer: Any = None,
                 **service_kw: Any) -> None:
        self.clock = clock or FakeClock(time.time())
        self._writer_cfg = DatawayConfig(urls=[f"{dataway_url}?token={DEFAULT_TOKEN}"], wal_dir=None,
                                         content_encoding="v1", retry_delay=0.05, max_retry_delay=0.1)
        self._late = LateWriter()
        self._custom_writer = writer
        service_kw.setdefault("tick_interval", 0.05)
        self.service = AggregateService(cfg, writer or self._late, DEFAULT_TOKEN, auth or (lambda request: None),
                                        clock=self.clock, state_dir=state_dir, **service_kw)

        @asynccontextmanager
        async def lifespan(app):
            real = None
            if self._custom_writer is None:
                real = DatawayWriter(self._writer_cfg)
                await real.start()
                self._late.inner = real
            await self.service.start()
            try:
                yield
            finally:
                await self.service.stop()
                if real is not None:
                    await real.flush(5)
                    await real.close()

        app = Starlette(routes=self.service.routes(), lifespan=lifespan)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    lifespan="on"))
        self._thread = threading.Thread(target=self.server.run, name="aggregate-service", daemon=True)

    @property
    def url(self) -> str:
        sock = self.server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "ServiceServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("aggregate test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(15)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
