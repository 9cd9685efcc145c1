"""`AggregateService`: Dataway's `POST /v1/aggregate` on a receiver, and its lifecycle.

    request -> auth(request) -> body (Content-Encoding) ->
        proxy mode:      AggregateProxy.forward -> backend[pick_key % N]
        standalone mode: WindowCache.feed(token, body, now) -> StateLog B record -> fsync -> 200
    1 s tick:   WindowCache.expire(now) -> points per token -> writer.write("metric", ..., token)
                -> StateLog F record; rotate/collect log segments
    60 s tick:  Tallies -> dataway_aggregate points -> writer.write("metric", ..., default_token)

The workspace token of a request is its `token` query parameter, else the daemon's
default token. A window whose write fails with a retryable error (WriterFull, a WAL
error) stays pending and is retried every tick; it also holds back the state log's
horizon, so a crash meanwhile replays it. A permanent refusal (InvalidWrite) drops it.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
import logging
import math
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from offload.errors import PermanentError
from receiver.aggregate import selfmetrics as sm
from receiver.aggregate.config import AggregateConfig
from receiver.aggregate.errors import InvalidBatch
from receiver.aggregate.proxy import AggregateProxy, error_response
from receiver.aggregate.state import StateLog
from receiver.aggregate.window import WindowCache
from receiver.errors import IngestError

__all__ = ["AggregateService"]

log = logging.getLogger(__name__)

API = "/v1/aggregate"
MiB = 1 << 20


@dataclass
class PendingWrite:
    token: str
    keys: list[int]
    points: list
    attempts: int = 0


class AggregateService:
    """Serves /v1/aggregate in standalone or proxy mode; `routes()` is empty when disabled."""

    def __init__(self, cfg: AggregateConfig, writer: Any, default_token: str | None,
                 auth: Callable[[Request], Any], clock: Callable[[], float] = time.time,
                 state_dir: Path | None = None, *, tick_interval: float = 1.0, report_interval: float = 60.0,
                 max_body_bytes: int = 64 * MiB, proxy_timeout: float = 30.0) -> None:
        self.cfg = cfg
        self.writer = writer
        self.default_token = default_token or ""
        self.auth = auth
        self.clock = clock
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.tick_interval = tick_interval
        self.report_interval = report_interval
        self.max_body_bytes = max_body_bytes
        self.cache = WindowCache(cfg.tolerance_s)
        self.tallies = sm.Tallies()
        self.proxy: AggregateProxy | None = None
        self._proxy_timeout = proxy_timeout
        self.state: StateLog | None = None
        self.pending: list[PendingWrite] = []
        self.flushed: set[tuple[int, str]] = set()  # (bucket, token) marked since the horizon
        self.horizon = 0
        self._tasks: set[asyncio.Task] = set()
        self._flush_lock = asyncio.Lock()
        self._started = False

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled

    def routes(self) -> list[Route]:
        """`POST /v1/aggregate`, or nothing when the feature is off (the path then 404s)."""
        if not self.enabled:
            return []
        return [Route(API, self.handle, methods=["POST"])]

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Replay the state log (standalone), then start the flush tick and the self-report."""
        if not self.enabled or self._started:
            return
        self._started = True
        if self.cfg.proxy:
            self.proxy = AggregateProxy(self.cfg.endpoints, timeout=self._proxy_timeout)
        elif self.state_dir is not None:
            await asyncio.to_thread(self._replay)
        if self.cfg.standalone:
            self._spawn(self._every(self.tick_interval, self.flush_due, "flush"))
        self._spawn(self._every(self.report_interval, self.report, "self-report"))

    def _replay(self) -> None:
        state = StateLog(self.state_dir)
        replay = state.load()
        flushed = replay.flushed
        horizon = replay.horizon

        def skip(key: int, token: str) -> bool:
            return key <= horizon or (key, token) in flushed

        fed = 0
        for token, now, body in replay.bodies():
            try:
                fed += self.cache.feed(token, body, now, skip=skip).accepted
            except IngestError as exc:  # cannot happen for bodies we accepted; never block a start
                log.warning("aggregate state: a logged batch no longer decodes: %s", exc)
        self.cache.watermark = max(self.cache.watermark, replay.watermark)
        self.horizon = horizon
        self.flushed = {m for m in flushed if m[0] > horizon}
        state.open(self.cache.watermark, horizon, self.flushed)
        state.collect(horizon)
        self.state = state
        if replay.batches:
            log.info("aggregate state: replayed %d batches (%d samples) into %d open windows",
                     len(replay.batches), fed, len(self.cache.open_windows()))

    async def stop(self) -> None:
        """Stop ticking and persist: open windows stay in the state log for the next start."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass
        self._tasks.clear()
        if self.proxy is not None:
            await self.proxy.aclose()
            self.proxy = None
        if self.state is not None:
            await self.state.close()
            self.state = None
        self._started = False

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _every(self, interval: float, job: Callable[[], Any], name: str) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a tick must never kill the loop
                log.exception("aggregate %s failed", name)

    # -- the endpoint ------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        denied = self.auth(request)
        if inspect.isawaitable(denied):
            denied = await denied
        if denied is not None:
            return denied
        token = request.query_params.get("token") or self.default_token
        body = await request.body()
        if len(body) > self.max_body_bytes:
            return error_response(413, "bodyTooLarge", f"body of {len(body)} bytes passes {self.max_body_bytes}")
        self.tallies.inc(sm.BODY_SIZE, len(body), api=API, token=token)
        try:
            if self.proxy is not None:
                return await self.proxy.forward(request, body)
            return await self._accept(request, token, body)
        except IngestError as exc:
            return error_response(400, exc.code, exc.message)

    async def _accept(self, request: Request, token: str, body: bytes) -> Response:
        if not body:
            raise InvalidBatch("empty body", code="emptyBody")
        body = _decompress(request.headers.get("content-encoding", ""), body, self.max_body_bytes)
        now = self.clock()
        effective_now = max(math.floor(now), self.cache.watermark)
        res = self.cache.feed(token, body, now)
        self.tallies.inc(sm.AGGR_POINTS, res.accepted, api=API, token=token)
        if res.dropped:
            sm.DROPPED_LATE.labels(api=API, token=token).inc(res.dropped)
            log.warning("aggregate: dropped %d late samples for windows %s (token %s...): already flushed",
                        res.dropped, sorted(res.late_keys), token[:8])
        if self.state is not None and res.accepted:
            try:
                self.state.append_batch(token, effective_now, res.min_key, res.max_key, body)
                await self.state.sync()
            except OSError as exc:
                log.error("aggregate state: cannot log an accepted batch: %s", exc)
                return error_response(500, "stateLogFailed", str(exc))
        return Response(json.dumps({"accepted": res.accepted, "dropped": res.dropped, "skipped": res.skipped}),
                        media_type="application/json")

    # -- flushing ----------------------------------------------------------------------------
    async def flush_due(self) -> int:
        """One tick: hand every expired window to the writer; returns the number of points written."""
        async with self._flush_lock:
            now = self.clock()
            windows = self.cache.expire(now)
            if windows:
                # expired windows are detached from the cache: build their points off the event loop
                self.pending.extend(await asyncio.to_thread(self._outputs, windows))
            written = 0
            still: list[PendingWrite] = []
            for pw in self.pending:
                try:
                    if pw.points:
                        await self.writer.write("metric", pw.points, token=pw.token or None)
                    written += len(pw.points)
                    sm.WINDOWS_FLUSHED.labels(token=pw.token).inc(len(pw.keys))
                except PermanentError as exc:
                    sm.FLUSH_ERRORS.labels(reason=type(exc).__name__).inc()
                    log.error("aggregate: Dataway writer refused windows %s for token %s...: %s; dropped",
                              pw.keys, pw.token[:8], exc)
                except Exception as exc:  # noqa: BLE001 - retryable (WriterFull, WAL errors): keep it
                    sm.FLUSH_ERRORS.labels(reason=type(exc).__name__).inc()
                    pw.attempts += 1
                    if pw.attempts in (1, 10) or pw.attempts % 100 == 0:
                        log.warning("aggregate: writing windows %s failed %d times (%s); retrying every tick",
                                    pw.keys, pw.attempts, exc)
                    still.append(pw)
                    continue
                if self.state is not None:
                    self.state.append_flushed(self.cache.watermark, pw.token, pw.keys)
                    self.flushed.update((k, pw.token) for k in pw.keys)
            self.pending = still
            sm.OPEN_CALCULATORS.set(self.cache.series())
            if self.state is not None:
                await self._maintain_state()
            return written

    def _outputs(self, windows) -> list[PendingWrite]:
        """One write per token: the points of all its expired windows."""
        by_token: dict[str, PendingWrite] = {}
        for window in windows:
            pw = by_token.get(window.token)
            if pw is None:
                pw = by_token[window.token] = PendingWrite(window.token, [], [])
            pw.keys.append(window.key)
            pw.points.extend(self.cache.window_points(window))
        return list(by_token.values())

    async def _maintain_state(self) -> None:
        state = self.state
        assert state is not None
        await state.sync()
        horizon = self.cache.watermark
        if self.pending:
            horizon = min(horizon, min(min(pw.keys) for pw in self.pending) - 1)
        if horizon > self.horizon:
            self.horizon = horizon
            self.flushed = {m for m in self.flushed if m[0] > horizon}
        if state.should_rotate():
            await state.rotate(self.cache.watermark, self.horizon, self.flushed)
        state.collect(self.horizon)

    # -- self-report --------------------------------------------------------------------------
    async def report(self) -> int:
        """Write the built-in counters as `dataway_aggregate` points; reset them once written."""
        snapshot = self.tallies.snapshot()
        if not snapshot:
            return 0
        points = sm.to_points(snapshot, int(self.clock() * 1e9))
        await self.writer.write("metric", points, token=self.default_token or None)
        self.tallies.settle(snapshot)
        return len(points)


def _decompress(encoding: str, body: bytes, limit: int) -> bytes:
    enc = encoding.strip().lower()
    try:
        if enc in ("", "identity"):
            return body
        if enc == "gzip":
            out = gzip.decompress(body)
        elif enc == "deflate":
            try:
                out = zlib.decompress(body)
            except zlib.error:
                out = zlib.decompress(body, -zlib.MAX_WBITS)
        elif enc == "zstd":
            import zstandard

            out = zstandard.ZstdDecompressor().decompress(body, max_output_size=limit)
        else:
            raise InvalidBatch(f"unsupported Content-Encoding {encoding!r}", code="decodeBodyFailed")
    except (OSError, zlib.error, EOFError, ValueError) as exc:
        raise InvalidBatch(f"cannot decode {enc} body: {exc}", code="decodeBodyFailed") from None
    if len(out) > limit:
        raise InvalidBatch(f"decompressed body passes {limit} bytes", code="bodyTooLarge")
    return out
