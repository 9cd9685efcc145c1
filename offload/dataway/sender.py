"""Delivering one queued body to Dataway over HTTP, with DataKit's answer rules (wire.md e.4).

2xx is success. 4xx (and any other non-5xx answer) is permanent: the body is
dropped and counted. 5xx and transport errors are retried with tenacity, backing
off exponentially from `retry_delay` to `max_retry_delay` with jitter, sending the
*whole* body again each time, for as long as the process runs: the WAL holds the
body, so nothing is dropped for having been retried often, only for being older
than `max_body_age`. httpx exceptions are translated to our error tree here, once.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never

from offload.dataway import metrics
from offload.dataway.body import user_agent
from offload.dataway.config import DatawayConfig
from offload.dataway.errors import Rejected, ServerError
from offload.dataway.record import Record
from offload.errors import RetryableError

__all__ = ["HttpSender", "Outcome"]

log = logging.getLogger("offload.dataway")


class Outcome:
    SENT = "sent"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REQUEUE = "requeue"  # still failing and `give_up()` said it holds up the queue


class _Expired(Exception):
    """The body passed max_body_age before it could be delivered."""


class HttpSender:
    """One httpx client (connection reuse, per-request timeouts) shared by every endpoint of a writer."""

    def __init__(self, cfg: DatawayConfig, clock: Callable[[], float], on_retry: Callable[[Record], None]) -> None:
        self._cfg = cfg
        self._clock = clock
        self._on_retry = on_retry
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(cfg.timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64, keepalive_expiry=90.0),
            # The environment's proxy settings are not consulted: a stray HTTP_PROXY must not
            # divert Dataway traffic; set [dataway] proxy instead.
            trust_env=False,
            proxy=cfg.proxy,
            follow_redirects=False,
        )
        self._fixed_headers = {"User-Agent": user_agent(), "Referer": "DataKit"}
        self._failing: set[str] = set()  # endpoints whose last attempt failed: warn once per outage

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, rec: Record) -> None:
        """One attempt: returns on 2xx, raises ServerError/RetryableError (retry) or Rejected (drop)."""
        headers = {**rec.headers, **self._fixed_headers}
        started = time.perf_counter()
        try:
            resp = await self._client.post(rec.url, content=rec.body, headers=headers)
        except httpx.HTTPError as exc:  # transport errors and timeouts
            metrics.SEND.labels(rec.category, "error").inc()
            raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            metrics.LATENCY.observe(time.perf_counter() - started)
        status = resp.status_code
        metrics.SEND.labels(rec.category, str(status)).inc()
        if 200 <= status < 300:
            return
        detail = resp.text[:200]
        if status >= 500:
            raise ServerError(status, detail)
        raise Rejected(status, detail)

    async def deliver(self, rec: Record, give_up: Callable[[], bool] | None = None) -> str:
        """Send until delivered, refused or expired; returns an `Outcome`. Cancellation stops it.

        `give_up()` is asked after each failed attempt; when it says so the body is handed
        back (Outcome.REQUEUE) instead of retried here."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            wait=self._backoff,
            stop=(lambda state: give_up()) if give_up is not None else stop_never,
            before_sleep=self._before_sleep(rec),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self._clock() - rec.build_time > self._cfg.max_body_age:
                        raise _Expired()
                    await self.post(rec)
        except _Expired:
            log.warning("dataway: dropping a %s body of %d points to %s: older than %ss",
                        rec.category, rec.points, _safe(rec.url), self._cfg.max_body_age)
            return Outcome.EXPIRED
        except Rejected as exc:
            log.warning("dataway: %s refused a %s body of %d points (%s); dropped",
                        _safe(rec.url), rec.category, rec.points, exc)
            return Outcome.REJECTED
        except RetryableError:
            return Outcome.REQUEUE  # only reached when give_up() stopped the retries
        host = _host(rec.url)
        if host in self._failing:
            self._failing.discard(host)
            log.info("dataway: %s accepts writes again", host)
        return Outcome.SENT

    def _backoff(self, state: RetryCallState) -> float:
        # retry_delay * 2^k plus up to 10% of retry_delay of jitter (DataKit: 1 s and [0, 100 ms)),
        # capped at max_retry_delay. Written out because tenacity renamed the parameters across 9.x.
        delay = self._cfg.retry_delay * 2.0 ** min(state.attempt_number - 1, 60)
        return min(delay + random.uniform(0, self._cfg.retry_delay / 10), self._cfg.max_retry_delay)

    def _before_sleep(self, rec: Record):
        def hook(state: RetryCallState) -> None:
            metrics.RETRIES.inc()
            self._on_retry(rec)
            exc = state.outcome.exception() if state.outcome else None
            host = _host(rec.url)
            level = logging.DEBUG if host in self._failing else logging.WARNING
            self._failing.add(host)
            log.log(level, "dataway: %s body to %s failed (attempt %d: %s); retrying in %.2fs",
                    rec.category, _safe(rec.url), state.attempt_number, exc,
                    state.next_action.sleep if state.next_action else 0.0)

        return hook


def _safe(url: str) -> str:
    """The URL without its query: tokens stay out of logs."""
    return url.split("?", 1)[0]


def _host(url: str) -> str:
    """scheme://host[:port] of a request URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"
