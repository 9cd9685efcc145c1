"""`HTTPServer`: uvicorn driven by the daemon's lifecycle (startup, shutdown) instead of its own.

The daemon binds the socket itself (so a busy port fails start-up with a clear
error and port 0 works), hands it to uvicorn's `startup()`, and on shutdown
calls uvicorn's `shutdown()`: stop listening, let in-flight requests finish
(each is answered only once its results are durable) within the drain timeout.
Signals stay with the daemon; uvicorn's own logging config is not installed.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from receiver.config import HTTPSettings, split_listen

__all__ = ["HTTPServer"]


class HTTPServer:
    """One uvicorn server on `settings.listen` (TLS when cert and key are set)."""

    def __init__(self, app, settings: HTTPSettings, drain_timeout: float) -> None:
        self.settings = settings
        host, port = split_listen(settings.listen, "http.listen")
        self._sock = _bind(host, port)
        self.port = self._sock.getsockname()[1]
        self.host = host
        self.config = uvicorn.Config(
            app, lifespan="off", log_config=None, access_log=False, server_header=False,
            ssl_certfile=settings.tls_cert or None, ssl_keyfile=settings.tls_key or None,
            limit_concurrency=settings.max_connections, timeout_graceful_shutdown=max(drain_timeout, 0.1),
            timeout_keep_alive=30,
        )
        self.config.load()
        self.server = uvicorn.Server(self.config)
        self._ticker: asyncio.Task | None = None

    async def start(self) -> None:
        # Server.serve() would set these up and install its own signal handlers; we do not call it.
        self.server.lifespan = self.config.lifespan_class(self.config)
        await self.server.startup(sockets=[self._sock])
        self._ticker = asyncio.create_task(self._tick(), name="http-tick")

    async def _tick(self) -> None:
        # uvicorn's main loop refreshes the Date header once a second; we run our own loop.
        counter = 0
        while True:
            await self.server.on_tick(counter)
            counter += 1
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop listening and wait (bounded) for in-flight requests to be answered."""
        if self._ticker is not None:
            self._ticker.cancel()
        self.server.should_exit = True
        if self.server.started:
            await self.server.shutdown(sockets=[self._sock])
        else:
            self._sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(1024)
    sock.set_inheritable(False)
    return sock
