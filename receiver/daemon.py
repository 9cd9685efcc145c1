"""`offload-receiver serve`: the receiver daemon and the one object that owns its lifecycle.

    startup    Dataway writer (opens and replays its WAL) -> worker pool -> aggregate endpoint
               -> gRPC listener -> HTTP listener -> ready (/v1/ping 200, sd_notify READY=1)
    main loop  wait for a signal: SIGTERM/SIGINT stop, SIGHUP reloads the scripts in every worker
    shutdown   health NOT_SERVING -> stop accepting (HTTP listener closed, gRPC stop(grace)) while
               in-flight batches finish, bounded by [shutdown] drain_timeout -> worker pool closed
               -> aggregate windows handed to the writer -> writer flush (bounded) and close -> exit 0

A second SIGTERM/SIGINT during shutdown exits at once (status 1); whatever was
acked is already in the WAL. Logs are JSON lines on stderr; the first one
carries the effective config with secrets masked.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import importlib
import logging
import os
import signal
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from offload.errors import ConfigError
from receiver import metrics
from receiver.config import ReceiverConfig, load_config
from receiver.grpc import DedupWindow, GRPCServer, OffloadServicer
from receiver.http import HTTPServer, ServiceStatus, TokenAuth, build_app
from receiver.pool import Admission, Ingestor, WorkerPool
from receiver.sdnotify import notify

__all__ = ["ReceiverDaemon", "serve_command", "version"]

log = logging.getLogger("receiver.daemon")


def version() -> str:
    try:
        return metadata.version("pipeline-offload")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class ReceiverDaemon:
    """Owns every part of a running receiver, from startup to the last WAL flush."""

    def __init__(self, cfg: ReceiverConfig) -> None:
        self.cfg = cfg
        self.status = ServiceStatus(version=version())
        self.auth = TokenAuth(cfg.auth.tokens)
        self.admission = Admission(cfg.workers.max_inflight_batches, cfg.workers.max_inflight_bytes)
        self.writer: Any = None
        self.pool: WorkerPool | None = None
        self.aggregate: Any = None
        self.script_aggregates: Any = None
        self.grpc: GRPCServer | None = None
        self.http: HTTPServer | None = None
        self._stop = asyncio.Event()
        self._stopping = False
        self._signals = 0

    # -- the three phases -----------------------------------------------------------------------------
    async def startup(self) -> None:
        cfg = self.cfg
        from offload.dataway import DatawayWriter

        metrics.BUILD_INFO.labels(self.status.version).set(1)
        self.writer = DatawayWriter(cfg.dataway)
        await self.writer.start()
        self.pool = WorkerPool(
            cfg.workers.effective_count, cfg.pipeline.scripts_dir, cfg.pipeline.budget_ms,
            batch_timeout=cfg.workers.batch_timeout, start_method=cfg.workers.start_method,
        )
        await self.pool.start()
        pool = self.pool
        metrics.bind_gauges(lambda: pool.queued, lambda: self.admission.batches,
                            lambda: self.admission.bytes, lambda: pool.alive)
        from receiver.pool.scriptagg import ScriptAggregates

        self.script_aggregates = ScriptAggregates(self.writer)
        await self.script_aggregates.start()
        ingestor = Ingestor(self.pool, self.writer, self.admission, self.script_aggregates)

        routes = []
        self.aggregate = self._make_aggregate()
        if self.aggregate is not None:
            routes = list(self.aggregate.routes())
            await self.aggregate.start()

        dedup = DedupWindow(cfg.grpc.dedup_window)
        servicer = OffloadServicer(ingestor, self.auth, dedup, cfg.grpc.max_message_bytes)
        self.grpc = GRPCServer(servicer, cfg.grpc, cfg.workers.max_inflight_batches + 16)
        await self.grpc.start()
        # One window for both transports: a batch resent over HTTP (X-Offload-Batch-Id) after it
        # was accepted is answered from the same memory as a gRPC resend.
        app = build_app(ingestor, self.auth, self.status, cfg.http.max_body_bytes, routes, dedup=dedup)
        self.http = HTTPServer(app, cfg.http, cfg.shutdown.drain_timeout)
        await self.http.start()

        _settle_heap()
        self.status.ready = True
        notify("READY=1")
        log.info("receiver ready", extra={"fields": {
            "http": f"{self.http.host}:{self.http.port}", "grpc_port": self.grpc.port,
            "workers": self.pool.worker_pids(), "aggregate": self.aggregate is not None,
            "pid": os.getpid(),
        }})

    async def main_loop(self) -> None:
        await self._stop.wait()

    async def shutdown(self) -> None:
        self._stopping = True
        cfg = self.cfg
        started = time.monotonic()
        self.status.ready = False
        notify("STOPPING=1")
        log.info("receiver stopping: draining in-flight batches", extra={"fields": {
            "inflight": self.admission.batches, "drain_timeout": cfg.shutdown.drain_timeout}})
        if self.grpc is not None:
            await _quietly(self.grpc.not_serving(), "gRPC health")
        stops = []
        if self.http is not None:
            stops.append(_quietly(self.http.stop(), "HTTP listener"))
        if self.grpc is not None:
            stops.append(_quietly(self.grpc.stop(cfg.shutdown.drain_timeout), "gRPC listener"))
        await asyncio.gather(*stops)
        self.admission.accepting = False

        def left() -> float:
            return max(cfg.shutdown.drain_timeout - (time.monotonic() - started), 0.1)

        if not await self.admission.wait_idle(left()):
            log.warning("drain timeout: %d batches still in flight", self.admission.batches)
        if self.pool is not None:
            await _quietly(self.pool.close(timeout=left()), "worker pool")
        if self.aggregate is not None:
            await _quietly(self.aggregate.stop(), "aggregate endpoint")
        if self.script_aggregates is not None:
            await _quietly(self.script_aggregates.stop(), "script aggregation buckets")
        if self.writer is not None:
            try:
                delivered = await self.writer.flush(cfg.shutdown.flush_timeout)
            except Exception as exc:  # noqa: BLE001 - shutdown must go on
                log.warning("writer flush failed: %s", exc)
                delivered = False
            if not delivered:
                log.info("undelivered results stay in the WAL for the next start")
            await _quietly(self.writer.close(), "Dataway writer")
        log.info("receiver stopped", extra={"fields": {"seconds": round(time.monotonic() - started, 3)}})

    async def run(self) -> int:
        """startup, main loop, shutdown; the process exit status."""
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        try:
            await self.startup()
        except (OSError, ConfigError, ImportError) as exc:
            log.error("receiver failed to start: %s", exc)
            await self.shutdown()
            return 1
        except Exception:
            log.exception("receiver failed to start")
            await self.shutdown()
            return 1
        await self.main_loop()
        await self.shutdown()
        return 0

    # -- signals ---------------------------------------------------------------------------------------------
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload)

    def _on_stop_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.error("second %s: exiting now", signal.Signals(sig).name)
            logging.shutdown()
            os._exit(1)
        log.info("%s received: shutting down (send it again to exit at once)", signal.Signals(sig).name)
        self._stop.set()

    def _on_reload(self) -> None:
        if self.pool is not None and not self._stopping:
            log.info("SIGHUP: reloading scripts in every worker")
            self.pool.reload()

    def _make_aggregate(self) -> Any:
        try:
            from receiver.aggregate import AggregateService
        except ImportError:
            return None
        if self.cfg.aggregate is None:
            return None
        service = AggregateService(
            self.cfg.aggregate, self.writer, self.cfg.default_token, self.auth.starlette_auth,
            clock=time.time, state_dir=self.cfg.wal_dir.parent / "aggregate",
            max_body_bytes=self.cfg.http.max_body_bytes,
        )
        return service if service.enabled else None


# Imported lazily by anyio (under Starlette) on the first request: loaded now, not during one.
_LAZY_MODULES = ("anyio._backends._asyncio",)


def _settle_heap() -> None:
    """Load what the first requests would import, then freeze the start-up heap out of the GC's sight.

    Everything allocated so far (modules, servers, compiled protos) lives as long as the
    process; frozen, the collector's full passes stop re-scanning it while batches flow.
    """
    for name in _LAZY_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    gc.collect()
    gc.freeze()


async def _quietly(awaitable, what: str) -> None:
    try:
        await awaitable
    except Exception as exc:  # noqa: BLE001 - one failing part must not stop the others' shutdown
        log.warning("stopping %s failed: %s", what, exc)


# -- logging -----------------------------------------------------------------------------------------------------

class JSONFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, plus `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request URL at INFO, Dataway tokens included.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- the command -----------------------------------------------------------------------------------------------------

def serve_command(args) -> int:
    """`offload-receiver serve [--config FILE] [--check-config]`."""
    setup_logging()
    try:
        cfg = load_config(args.config)
        if cfg.dataway is None:
            raise ConfigError("dataway", "the Dataway writer (offload.dataway) is not installed")
    except ConfigError as exc:
        log.error("invalid config: %s", exc, extra={"fields": {"key": exc.key}})
        print(f"offload-receiver: config error: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "check_config", False):
        print(orjson.dumps({"ok": True, "config": cfg.describe()}, default=str).decode())
        return 0
    setup_logging(cfg.log_level)
    log.info("receiver starting", extra={"fields": {"version": version(), "config": cfg.describe()}})
    Path(cfg.wal_dir).mkdir(parents=True, exist_ok=True)
    return asyncio.run(ReceiverDaemon(cfg).run())
