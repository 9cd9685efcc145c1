"""The writer's WAL: replay after restart, no resend of what was delivered, torn tails, full WAL."""

from __future__ import annotations

import asyncio

import pytest
from dataway_testkit import TOKEN_A, log_points, wait_for
from prometheus_client import REGISTRY
from support.dataway import DatawayStandIn

from offload.dataway import DatawayConfig, DatawayWriter, WalError, WriterFull
from offload.dataway.record import FRAME_HEADER
from offload.errors import RetryableError


FAST = dict(retry_delay=0.01, max_retry_delay=0.05, timeout=5.0)


def config(dataway, wal_dir, **kw) -> DatawayConfig:
    return DatawayConfig(urls=[f"{dataway.url}?token={TOKEN_A}"], wal_dir=wal_dir, **{**FAST, **kw})


# For a writer closed while the stand-in is down: after its first failed attempt it sleeps,
# so no request of it is still in flight (and answered once the stand-in is up) at close.
SLOW = dict(retry_delay=30, max_retry_delay=30, workers=1)


async def close_after_first_failure(w: DatawayWriter) -> None:
    await wait_for(lambda: w.stats["retries"] >= 1)
    await w.close()


def segments(wal_dir):
    return sorted(wal_dir.glob("*/*.seg"))


async def test_replay_after_restart_delivers_everything_in_order(dataway, tmp_path):
    wal = tmp_path / "wal"
    dataway.set_down(True)
    w1 = DatawayWriter(config(dataway, wal, **SLOW))
    for i in range(5):
        await w1.write("logging", log_points(10, start=10 * i))  # durable once it returns
    await close_after_first_failure(w1)
    assert w1.stats["bodies_sent"] == 0 and w1.stats["wal_pending_bytes"] > 0

    dataway.set_down(False)
    w2 = DatawayWriter(config(dataway, wal, workers=1))
    try:
        await w2.start()
        assert await w2.flush(timeout=10)
        assert [p.fields["seq"] for p in dataway.points()] == list(range(50))
        assert len(dataway.ok_requests()) == 5
        assert w2.stats["wal_pending_bytes"] == 0
    finally:
        await w2.close()


async def test_delivered_bodies_are_not_sent_again_after_restart(dataway, tmp_path):
    wal = tmp_path / "wal"
    async with DatawayWriter(config(dataway, wal, wal_max_bytes=256 << 10)) as w1:
        seen = set()
        for i in range(20):  # 20 bodies of ~25 KB: 64 KiB segments get rotated, then deleted
            await w1.write("logging", log_points(100, start=100 * i, size=400, noise=True))
            seen.update(p.name for p in segments(wal))
        assert await w1.flush(timeout=10)
    assert len(dataway.ok_requests()) == 20
    assert len(seen) >= 5
    assert len(segments(wal)) == 1  # fully delivered segments are deleted

    async with DatawayWriter(config(dataway, wal)) as w2:
        await w2.write("logging", log_points(1, start=9999))
        assert await w2.flush(timeout=10)
    assert len(dataway.ok_requests()) == 21
    assert sorted(p.fields["seq"] for p in dataway.points()) == list(range(2000)) + [9999]


@pytest.mark.parametrize("tail", ["torn-frame", "zeros"])
async def test_torn_wal_tail_is_ignored(dataway, tmp_path, tail):
    wal = tmp_path / "wal"
    dataway.set_down(True)
    w1 = DatawayWriter(config(dataway, wal, **SLOW))
    for i in range(3):
        await w1.write("logging", log_points(5, start=5 * i))
    await close_after_first_failure(w1)
    seg = segments(wal)[-1]
    good = seg.read_bytes()
    with open(seg, "ab") as fh:  # a crash in the middle of appending the next record
        fh.write(good[: FRAME_HEADER.size + 40] if tail == "torn-frame" else bytes(4096))

    dataway.set_down(False)
    async with DatawayWriter(config(dataway, wal, workers=1)) as w2:
        assert await w2.flush(timeout=10)
        assert [p.fields["seq"] for p in dataway.points()] == list(range(15))
        assert w2.stats["wal_corrupt_bytes"] == (FRAME_HEADER.size + 40 if tail == "torn-frame" else 4096)
        await w2.write("logging", log_points(1, start=15))  # the WAL keeps working after the tail
        assert await w2.flush(timeout=10)
    assert [p.fields["seq"] for p in dataway.points()] == list(range(16))


async def test_full_wal_raises_writer_full_and_counts(dataway, tmp_path):
    before = REGISTRY.get_sample_value("dataway_points_dropped_total", {"category": "logging", "reason": "full"}) or 0
    dataway.set_down(True)
    w = DatawayWriter(config(dataway, tmp_path / "wal", wal_max_bytes=64 << 10))
    try:
        accepted = 0
        with pytest.raises(WriterFull) as info:
            for i in range(1000):
                await w.write("logging", log_points(20, start=20 * i, size=300))
                accepted += 1
        assert isinstance(info.value, RetryableError)
        assert accepted >= 3
        s = w.stats
        assert (s["writes_full"], s["points_dropped_full"]) == (1, 20)
        assert s["wal_pending_bytes"] <= 64 << 10
        after = REGISTRY.get_sample_value("dataway_points_dropped_total", {"category": "logging", "reason": "full"})
        assert after == before + 20

        dataway.set_down(False)  # once delivered, the room comes back
        assert await w.flush(timeout=10)
        assert dataway.point_count() == 20 * accepted
        await w.write("logging", log_points(20, start=20 * accepted))
        assert await w.flush(timeout=10)
        assert dataway.point_count() == 20 * (accepted + 1)
    finally:
        await w.close()


async def test_memory_queue_without_wal_dir(dataway, tmp_path):
    dataway.set_down(True)
    async with DatawayWriter(config(dataway, None, wal_max_bytes=32 << 10)) as w:
        with pytest.raises(WriterFull):
            for i in range(1000):
                await w.write("logging", log_points(20, start=20 * i, size=300))
        n = w.stats["points_written"]
        dataway.set_down(False)
        assert await w.flush(timeout=10)
        assert dataway.point_count() == n
    assert not (tmp_path / "wal").exists()


async def test_concurrent_writes_share_fsyncs(dataway, tmp_path):
    dataway.set_down(True)  # keep the senders out of the way
    async with DatawayWriter(config(dataway, tmp_path / "wal", retry_delay=5, max_retry_delay=5)) as w:
        await asyncio.gather(*(w.write("logging", log_points(50, start=50 * i)) for i in range(64)))
        s = w.stats
        assert s["writes"] == 64 and s["bodies_queued"] == 64
        assert s["wal_fsync_rounds"] < 64


async def test_flush_times_out_while_dataway_is_down(dataway, tmp_path):
    dataway.fail_with(500)
    async with DatawayWriter(config(dataway, tmp_path / "wal")) as w:
        await w.write("logging", log_points(3))
        assert await w.flush(timeout=0.2) is False
        dataway.fail_with(None)
        assert await w.flush(timeout=10) is True


async def test_one_wal_dir_one_writer(dataway, tmp_path):
    async with DatawayWriter(config(dataway, tmp_path / "wal")):
        with pytest.raises(WalError, match="in use"):
            await DatawayWriter(config(dataway, tmp_path / "wal")).start()


async def test_bodies_that_expired_in_the_wal_are_dropped_on_replay(dataway, tmp_path):
    now = [1000.0]
    dataway.set_down(True)
    w1 = DatawayWriter(config(dataway, tmp_path / "wal", max_body_age=60, **SLOW), clock=lambda: now[0])
    await w1.write("logging", log_points(3))
    await close_after_first_failure(w1)
    dataway.set_down(False)
    now[0] += 61
    async with DatawayWriter(config(dataway, tmp_path / "wal", max_body_age=60), clock=lambda: now[0]) as w2:
        await w2.write("logging", log_points(2, start=3))
        assert await w2.flush(timeout=10)
        assert w2.stats["points_dropped_expired"] == 3
    assert [p.fields["seq"] for p in dataway.points()] == [3, 4]


async def test_close_releases_a_waiting_flush(dataway, tmp_path):
    dataway.fail_with(503)
    w = DatawayWriter(config(dataway, tmp_path / "wal"))
    await w.write("logging", log_points(3))
    flushing = asyncio.ensure_future(w.flush())
    await wait_for(lambda: len(dataway.requests) >= 1)
    await w.close()
    assert await asyncio.wait_for(flushing, 5) is False


class PickyDataway(DatawayStandIn):
    """Answers 503 to bodies carrying `X-Poison` while `poisoned` is set; the rest as usual."""

    poisoned = True
    poison_bodies: list

    def _handle(self, h):
        if self.poisoned and h.headers.get("X-Poison"):
            raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
            self.poison_bodies.append((raw, h.headers["X-Pkg-Id"]))
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        super()._handle(h)


async def test_a_body_that_keeps_failing_does_not_stall_the_others(tmp_path):
    dw = PickyDataway()
    dw.poison_bodies = []
    dw.start()
    try:
        async with DatawayWriter(config(dw, tmp_path / "wal", workers=2)) as w:
            await w.write("logging", log_points(1, start=-1), headers={"X-Poison": "1"})
            for i in range(30):
                await w.write("logging", log_points(2, start=2 * i))
            await wait_for(lambda: w.stats["bodies_sent"] == 30)  # the others arrive while the poison body fails
            assert dw.point_count() == 60 and w.stats["bodies_requeued"] >= 1
            dw.poisoned = False
            assert await w.flush(timeout=10)
        assert sorted(p.fields["seq"] for p in dw.points()) == list(range(-1, 60))
        assert len({body for body, _ in dw.poison_bodies}) == 1  # the same whole body each time
        assert len({pkg for _, pkg in dw.poison_bodies}) == 1
    finally:
        dw.stop()
