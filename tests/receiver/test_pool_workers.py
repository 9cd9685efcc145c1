"""The worker pool with real worker processes: batches in one frame, death and restart, the watchdog,
poison batches, back-pressure through admission."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from test_daemon_harness import NGINX_SCRIPT, nginx_lp, scripts_dir

from offload._proto.offload.v1 import offload_pb2
from offload.point import Point, UInt
from receiver import metrics
from receiver.errors import Overloaded, ShuttingDown
from receiver.pool import Admission, Job, WorkerPool, process_job
from receiver.pool.batch import BatchError, apply_precision, decompress
from receiver.pool.jobs import KIND_BODY, KIND_OFFLOAD, pack_points, unpack_points


def body_job(body: bytes, **kw) -> Job:
    return Job(kind=KIND_BODY, category="logging", payload=body, precision="n", now_ns=1, **kw)


def lines_job(lines: list[str], source: str = "nginx") -> Job:
    raw = offload_pb2.OffloadBatch(category="logging", source=source,
                                   lines=offload_pb2.RawLines(lines=lines)).SerializeToString()
    return Job(kind=KIND_OFFLOAD, category="logging", payload=raw, now_ns=1_700_000_000_000_000_000)


def restarts() -> float:
    return sum(s.value for m in metrics.WORKER_RESTARTS.collect() for s in m.samples if s.name.endswith("_total"))


def test_points_blob_round_trip_keeps_types():
    pts = [Point("a", {"t": "1"}, {"i": 1, "u": UInt(2), "f": 1.5, "b": True, "s": "x", "d": b"\x00", "n": None,
                                   "l": [1, 2]}, 5),
           Point("b", {}, {"x": 1}, 6)]
    assert unpack_points(pack_points(pts)) == pts
    assert isinstance(unpack_points(pack_points(pts))[0].fields["u"], UInt)


def test_decompress_limits_and_precision():
    import gzip

    assert decompress(gzip.compress(b"abc") * 2, "gzip", 100) == b"abcabc"  # multi-member
    with pytest.raises(BatchError) as info:
        decompress(gzip.compress(b"a" * 1000), "gzip", 999)
    assert info.value.code == "bodyTooLarge"
    with pytest.raises(BatchError) as info:
        decompress(b"abc", "lz4", 100)
    assert info.value.code == "decodeBodyFailed"
    pts = [Point("a", {}, {"x": 1}, t) for t in (0, 1_700_000_000, 1_700_000_000_000, 1_700_000_000_000_000,
                                                 1_700_000_000_000_000_000)]
    apply_precision(pts, None, 42)
    assert [p.time for p in pts] == [42] + [1_700_000_000_000_000_000] * 4


def test_process_job_in_process(tmp_path):
    from receiver.pipeline import ScriptStore

    store = ScriptStore(str(scripts_dir(tmp_path)))
    result = process_job(store, body_job(nginx_lp(0, 10)))
    assert result.error is None and result.received == result.written == 10
    assert result.stats == [("nginx", 10, 10, 0, 0)]
    assert all(p.fields["status_code"] in (200, 201, 304, 404, 500) for p in result.points())
    bad = process_job(store, body_job(b"no fields here"))
    assert bad.error[0] == "invalidLinePoint"


async def test_pool_runs_batches_on_every_worker(tmp_path):
    pool = WorkerPool(2, str(scripts_dir(tmp_path)))
    await pool.start()
    try:
        assert len(set(pool.worker_pids())) == 2
        jobs = [lines_job([f'1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET /{i} HTTP/1.1" 200 {i} "-" "x"']
                          * 50) for i in range(20)]
        results = await asyncio.gather(*(pool.run(j) for j in jobs))
        assert all(r.error is None and r.written == 50 for r in results)
        assert {p.fields["bytes"] for r in results for p in r.points()} == set(range(20))
        assert pool.queued == 0 and pool.busy == 0
    finally:
        await pool.close()
    with pytest.raises(ShuttingDown):
        await pool.run(jobs[0])


async def test_killed_worker_is_restarted_and_its_batches_rerun(tmp_path):
    pool = WorkerPool(1, str(scripts_dir(tmp_path)))
    await pool.start()
    before = restarts()
    try:
        jobs = [body_job(nginx_lp(i * 2000, 2000)) for i in range(12)]
        tasks = [asyncio.create_task(pool.run(j)) for j in jobs]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        results = await asyncio.wait_for(asyncio.gather(*tasks), 120)
        assert [r.written for r in results] == [2000] * 12  # every batch, whole, once
        assert pool.worker_pids() and pool.worker_pids()[0] != victim
        assert restarts() == before + 1
        assert max(r.attempts for r in results) <= 2
    finally:
        await pool.close()


async def test_watchdog_kills_a_stuck_batch_then_passthrough(tmp_path):
    scripts = scripts_dir(tmp_path, {"stuck": "for ; ; {\n}\n", "nginx": NGINX_SCRIPT})
    pool = WorkerPool(1, str(scripts), budget_ms=600_000, batch_timeout=0.5, max_attempts=3)
    await pool.start()
    try:
        started = time.monotonic()
        result = await asyncio.wait_for(pool.run(body_job(b'stuck message="x" 1')), 60)
        assert result.error is None and result.attempts == 3
        assert result.stats == [("-", 1, 1, 0, 0)]  # ran without its script on the last attempt
        assert time.monotonic() - started >= 1.0
        # The pool is healthy afterwards.
        ok = await pool.run(body_job(nginx_lp(0, 5)))
        assert ok.written == 5 and ok.stats[0][0] == "nginx"
    finally:
        await pool.close()


def test_admission_bounds_batches_and_bytes():
    adm = Admission(max_batches=2, max_bytes=100)
    a = adm.admit(60)
    with pytest.raises(Overloaded):
        adm.admit(50)
    b = adm.admit(10)
    with pytest.raises(Overloaded):
        adm.admit(0)
    with pytest.raises(Overloaded):
        b.grow(31)
    b.grow(30)
    a.release()
    a.release()  # idempotent
    assert adm.batches == 1 and adm.bytes == 40
    b.release()
    adm.accepting = False
    with pytest.raises(ShuttingDown):
        adm.admit()


def test_nginx_script_of_the_harness_compiles(tmp_path):
    from receiver.pipeline import ScriptStore

    (tmp_path / "n.p").write_text(NGINX_SCRIPT)
    store = ScriptStore(str(tmp_path))
    result = process_job(store, body_job(nginx_lp(0, 1, source="n")))
    assert result.points()[0].tags["http_method"] == "GET"


def test_warm_up_compiles_every_script_before_the_first_batch(tmp_path):
    import gc

    from receiver.pool.worker import make_store, warm_up

    d = scripts_dir(tmp_path, {"nginx": NGINX_SCRIPT, "broken": "grok(_, \n"})
    (d / "metric").mkdir()
    (d / "metric" / "cpu.p").write_text('add_key("seen", true)\n')
    store = make_store(str(d), 100)
    frozen_before, threshold = gc.get_freeze_count(), gc.get_threshold()
    try:
        assert warm_up(store, str(d)) == 2  # nginx.p and metric/cpu.p; the broken one is not fatal
        assert store._entries[("logging", "nginx")].script is not None  # compiled now, not on first use
        assert store.error("logging", "broken")
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert process_job(store, body_job(nginx_lp(0, 3))).written == 3
    assert warm_up(make_store(str(tmp_path / "missing"), 100), str(tmp_path / "missing")) == 0
