"""The worker process: its own ScriptStore, a loop of one job frame in, one result frame out.

Messages (pickled tuples, one frame each, see jobs.py):

    daemon -> worker   ("job", job_id, Job tuple)    ("reload",)
    worker -> daemon   ("hello", pid)  once the store is built
                       ("result", job_id, JobResult tuple)

A worker ignores SIGINT/SIGTERM/SIGHUP: the daemon owns the lifecycle (systemd
and terminals signal the whole process group, and the workers must live on to
drain) and ends a worker by closing its socket, which the worker sees as end of
stream after finishing its current job. The same happens when the daemon dies,
however it dies: its end of the socket closes with it. (No PR_SET_PDEATHSIG: the
parent of a forkserver child is the forkserver, which a group SIGTERM kills.)
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
from typing import Any

from receiver.pool.jobs import Job, JobResult, dumps, loads, read_frame, write_frame

__all__ = ["make_store", "worker_main"]


def make_store(scripts_dir: str, budget_ms: int) -> Any:
    """A ScriptStore for `scripts_dir`, given the per-point budget when the engine takes one."""
    from receiver.pipeline import ScriptStore

    try:
        params = inspect.signature(ScriptStore).parameters
    except (TypeError, ValueError):
        params = {}
    if "budget" in params:  # seconds per point
        return ScriptStore(scripts_dir, budget=budget_ms / 1000.0)
    if "budget_ms" in params:
        return ScriptStore(scripts_dir, budget_ms=budget_ms)
    return ScriptStore(scripts_dir)


def worker_main(sock, scripts_dir: str, budget_ms: int) -> None:
    """Entry point of a worker process (multiprocessing target)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    from receiver.pool.batch import process_job

    store = make_store(scripts_dir, budget_ms)
    try:
        write_frame(sock, dumps(("hello", os.getpid())))
        while True:
            frame = read_frame(sock)
            if frame is None:
                return
            msg = loads(frame)
            if msg[0] == "job":
                _, job_id, job_tuple = msg
                try:
                    result = process_job(store, Job.from_tuple(job_tuple))
                except Exception as exc:  # an engine bug must not take the batch's siblings down
                    result = JobResult(error=("invalidAPIHandler", f"worker error: {type(exc).__name__}: {exc}"))
                write_frame(sock, dumps(("result", job_id, result.to_tuple())))
            elif msg[0] == "reload":
                store.reload()
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return  # the daemon went away
    finally:
        try:
            sock.close()
        except OSError:
            pass
        sys.stdout.flush()

