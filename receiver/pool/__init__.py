"""The worker pool: batches run in worker processes, admitted under one bound, results made durable.

    Admission / Ticket   the bound on batches and bytes between receive and ack
    WorkerPool           worker processes (one per core), restart and re-run on death
    Ingestor             admit -> pool -> Dataway writer, shared by the HTTP and gRPC ingest
    Job / JobResult      what crosses the process boundary (one frame each way)
    process_job          the worker's work, callable in-process
"""

from receiver.pool.admission import Admission, Ticket
from receiver.pool.batch import process_job
from receiver.pool.ingest import Ingestor, Outcome
from receiver.pool.jobs import KIND_BODY, KIND_OFFLOAD, Job, JobResult
from receiver.pool.pool import WorkerPool

__all__ = [
    "KIND_BODY",
    "KIND_OFFLOAD",
    "Admission",
    "Ingestor",
    "Job",
    "JobResult",
    "Outcome",
    "Ticket",
    "WorkerPool",
    "process_job",
]
