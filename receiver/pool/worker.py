"""The worker process: its own ScriptStore, a loop of one job frame in, one result frame out.

Messages (pickled tuples, one frame each, see jobs.py):

    daemon -> worker   ("job", job_id, Job tuple)    ("reload",)
    worker -> daemon   ("hello", pid)  once the store is built
                       ("result", job_id, JobResult tuple)

Before its hello a worker warms up (`warm_up`): it compiles the scripts it finds
in the scripts directory, pushes one tiny batch through the codecs and the body
builder (their lazy imports and caches), and freezes what it holds so far out of
the garbage collector's sight. A fresh worker's first batch would otherwise cost
5-8x a steady one (script compile, imports), every start and every restart.

A worker ignores SIGINT/SIGTERM/SIGHUP: the daemon owns the lifecycle (systemd
and terminals signal the whole process group, and the workers must live on to
drain) and ends a worker by closing its socket, which the worker sees as end of
stream after finishing its current job. The same happens when the daemon dies,
however it dies: its end of the socket closes with it. (No PR_SET_PDEATHSIG: the
parent of a forkserver child is the forkserver, which a group SIGTERM kills.)
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from receiver.pool.jobs import Job, JobResult, dumps, loads, read_frame, write_frame

__all__ = ["make_store", "warm_up", "worker_main"]

log = logging.getLogger("receiver.pool")

WARM_UP_SECONDS = 5.0  # compile scripts at start for at most this long; the rest compile on first use
# Collections of the youngest generation: the default 700 runs one every few dozen points, and
# the batch path makes no reference cycles worth chasing that often (cycles still get collected).
GC_THRESHOLD = (10_000, 10, 10)


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


def warm_up(store: Any, scripts_dir: str, budget_s: float = WARM_UP_SECONDS) -> int:
    """Compile the scripts of `scripts_dir` (for up to `budget_s`), run the codecs once; returns scripts compiled."""
    from receiver.pool.batch import process_job
    from receiver.pool.jobs import KIND_BODY, Job

    deadline = time.monotonic() + budget_s
    compiled = 0
    root = Path(scripts_dir)
    try:
        candidates = [("logging", p) for p in sorted(root.glob("*.p"))]
        candidates += [(d.name, p) for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
                       for p in sorted(d.glob("*.p"))]
    except OSError:
        candidates = []
    for category, path in candidates:
        if time.monotonic() > deadline:
            break
        try:
            if store.get(category, path.stem) is not None:
                compiled += 1
        except Exception as exc:  # noqa: BLE001 - a script that fails here fails again, visibly, on use
            log.debug("warm-up: %s: %s", path, exc)
    for encoding in ("line-protocol", "protobuf"):  # the body builder, the codecs and their lazy imports
        process_job(store, Job(kind=KIND_BODY, category="logging", payload=b'warm_up message="x"', now_ns=1,
                               passthrough=True, build=(encoding, 1 << 20, True)))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    return compiled


def worker_main(sock, scripts_dir: str, budget_ms: int) -> None:
    """Entry point of a worker process (multiprocessing target)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    from receiver.pool.batch import process_job

    store = make_store(scripts_dir, budget_ms)
    warm_up(store, scripts_dir)
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

