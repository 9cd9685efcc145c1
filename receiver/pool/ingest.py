"""`Ingestor`: the path every batch takes after its transport (HTTP or gRPC) received it.

    admit (ticket) -> worker pool (decode, scripts, encode to bodies) -> Dataway writer WAL -> answer

Both transports call `admit()` first and `process()` second, and answer only
when `process()` returned: at that point the results are in the writer's WAL
(or its file sink), so an ack means durable. Everything that can go wrong is
translated here into the receiver's error tree (receiver.errors) once:

    worker error code             -> BadRequest / PayloadTooLarge (code kept)
    writer full or WAL trouble    -> Overloaded
    writer rejects the token      -> BadRequest("invalidToken")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from offload.dataway.errors import WriterClosed
from offload.errors import PermanentError, RetryableError
from receiver import metrics
from receiver.errors import BadRequest, Overloaded, PayloadTooLarge, ShuttingDown
from receiver.pool.admission import Admission, Ticket
from receiver.pool.jobs import Job, unpack_points
from receiver.pool.prebuilt import BodySink

__all__ = ["Ingestor", "Outcome"]

log = logging.getLogger("receiver.ingest")


@dataclass(slots=True)
class Outcome:
    """What an accepted batch became."""

    received: int  # points decoded
    written: int  # points handed to the writer (after the pipeline)
    echo: bytes | None = None


class Ingestor:
    """Runs admitted batches through the pool and the writer."""

    def __init__(self, pool: Any, writer: Any, admission: Admission, aggregates: Any = None) -> None:
        self.pool = pool
        self.writer = writer
        self.admission = admission
        self.bodies = BodySink(writer)
        self.aggregates = aggregates  # a ScriptAggregates: the node's agg_create buckets

    def admit(self, nbytes: int = 0) -> Ticket:
        """A ticket for one batch; Overloaded when full, ShuttingDown while draining."""
        return self.admission.admit(nbytes)

    async def process(self, job: Job, *, token: str | None = None,
                      headers: Mapping[str, str] | None = None) -> Outcome:
        """Run `job` and make its results durable; raises IngestError subclasses."""
        job.build = self.bodies.settings
        job.headers = dict(headers) if headers else None
        result = await self.pool.run(job)
        if result.error is not None:
            code, message = result.error
            if code == "bodyTooLarge":
                raise PayloadTooLarge(message)
            if code == "invalidAPIHandler":
                log.error("worker failed on a %s batch: %s", job.category, message)
            raise BadRequest(message, code=code)
        metrics.record_batch(job.category, result.stats, result.cost_s)
        if result.error_samples:
            log.debug("script errors in a %s batch: %s", job.category, result.error_samples)
        if not job.dry and (result.written or result.side):
            try:
                for category, data, n in result.side:  # create_point points of other categories
                    if job.build is not None:  # the worker built the bodies (as for the main points)
                        await self.bodies.write_built(category, data, n, token)
                    else:
                        await self.writer.write(category, unpack_points(data), token=token, headers=job.headers)
                if result.written and result.built is not None:
                    await self.bodies.write_built(job.category, result.built, result.written, token)
                elif result.written:
                    await self.writer.write(job.category, result.points(), token=token, headers=job.headers)
            except RetryableError as exc:  # WriterFull, WalError
                raise Overloaded(f"results cannot be queued: {exc}") from exc
            except WriterClosed as exc:
                raise ShuttingDown("the Dataway writer is closed") from exc
            except PermanentError as exc:  # InvalidWrite: a token DataKit would reject
                raise BadRequest(str(exc), code="invalidToken") from exc
        if result.agg and self.aggregates is not None and not job.dry:
            # after the batch's own results are durable: a batch refused above is sent again
            # and must not count twice
            await self.aggregates.apply(result.agg, token)
        return Outcome(result.received, result.written, result.echo)


def now_ns() -> int:
    """Receive time for points without one."""
    return time.time_ns()
