"""Sender: even spread, retry on the next receiver with the same id, back-pressure, spill, drops."""

import asyncio

import pytest

from fakes_sender import FakeTransport
from offload.sender import Batch, Sender, SenderConfig
from offload.sender.config import parse_offload

OFFLOAD = parse_offload({"receiver": "ploffload", "addresses": ["grpc://a:1", "grpc://b:1"]})


def make_sender(n=2, delay=0.0, **cfg):
    ts = [FakeTransport(f"rx{i}", delay=delay) for i in range(n)]
    defaults = dict(eject_base=0.02, eject_max=0.05, concurrency=8, queue_batches=16)
    defaults.update(cfg)
    give_up = defaults.pop("give_up_after", None)
    return Sender(OFFLOAD, SenderConfig(**defaults), transports=ts, give_up_after=give_up), ts


def lines_batch(i, results=None, spillable=False):
    def done(batch, ok):
        if results is not None:
            results.append((batch.batch_id, ok))

    return Batch(source="nginx", lines=[f"line {i} {j}" for j in range(10)], on_done=done, spillable=spillable)


async def test_batches_alternate_evenly_across_tasks():
    sender, ts = make_sender(delay=0.001)
    await sender.start()
    results = []
    for i in range(200):
        await sender.submit(lines_batch(i, results))
    assert await sender.drain(10)
    await sender.close()
    assert len(results) == 200 and all(ok for _, ok in results)
    assert len(ts[0].accepted) == len(ts[1].accepted) == 100
    m = sender.metrics
    assert m.value("offload_sender_points_offloaded_total", receiver="rx0") == 1000
    assert m.value("offload_sender_batches_total", receiver="rx1", result="accepted") == 100
    assert m.value("offload_sender_ack_latency_seconds_count", receiver="rx0") == 100


async def test_failed_batch_goes_to_the_next_receiver_with_the_same_bytes():
    sender, ts = make_sender()
    ts[0].mode = "down"
    await sender.start()
    results = []
    batches = [lines_batch(i, results) for i in range(20)]
    for b in batches:
        await sender.submit(b)
    assert await sender.drain(10)
    await sender.close()
    assert sorted(r[0] for r in results) == sorted(b.batch_id for b in batches)
    assert all(ok for _, ok in results)
    assert set(ts[1].accepted) == {b.batch_id for b in batches}
    # Every batch that failed on rx0 was resent byte for byte to rx1.
    for bid, body in zip(ts[0].attempts, ts[0].bodies):
        assert body in ts[1].bodies
    m = sender.metrics
    assert m.value("offload_sender_ejections_total", receiver="rx0") >= 1
    assert m.value("offload_sender_retries_total", receiver="rx0", reason="error") == len(ts[0].attempts)
    assert m.value("offload_sender_points_failed_total", receiver="rx0") == 10 * len(ts[0].attempts)


async def test_all_down_pushes_back_then_recovers_without_loss():
    sender, ts = make_sender(queue_batches=4, concurrency=2)
    for t in ts:
        t.mode = "down"
    await sender.start()
    results = []
    for i in range(6):  # 2 in flight + 4 queued
        await asyncio.wait_for(sender.submit(lines_batch(i, results)), 2)
    await asyncio.sleep(0.1)
    blocked = asyncio.ensure_future(sender.submit(lines_batch(99, results)))
    await asyncio.sleep(0.1)
    assert not blocked.done(), "a full queue must push back on the input"
    assert not await sender.offer(lines_batch(100, results)), "offer answers 'full' (HTTP 429)"
    assert sender.metrics.value("offload_sender_queue_batches", where="memory") == 4
    assert sender.balancer.outage() > 0
    for t in ts:
        t.mode = "ok"
    await asyncio.wait_for(blocked, 5)
    assert await sender.drain(5)
    await sender.close()
    assert sorted(ok for _, ok in results) == [True] * 7
    assert len(set(ts[0].accepted + ts[1].accepted)) == 7


async def test_busy_receiver_is_skipped_not_ejected():
    sender, ts = make_sender()
    ts[0].mode = "busy"
    await sender.start()
    results = []
    for i in range(10):
        await sender.submit(lines_batch(i, results))
    assert await sender.drain(5)
    await sender.close()
    assert len(ts[1].accepted) == 10
    assert sender.metrics.value("offload_sender_ejections_total", receiver="rx0") == 0
    assert sender.metrics.value("offload_sender_retries_total", receiver="rx0", reason="busy") >= 1


async def test_permanent_error_drops_and_reports():
    sender, ts = make_sender(n=1)
    ts[0].mode = "refuse"
    await sender.start()
    results = []
    await sender.submit(lines_batch(0, results))
    assert await sender.drain(5)
    await sender.close()
    assert results == [(results[0][0], False)]
    assert sender.metrics.value("offload_sender_points_dropped_total", reason="permanent") == 10


async def test_one_shot_gives_up_after_outage():
    sender, ts = make_sender(n=1, give_up_after=0.2)
    ts[0].mode = "down"
    await sender.start()
    results = []
    await sender.submit(lines_batch(0, results))
    assert await sender.drain(5)
    await sender.close()
    assert results[0][1] is False
    assert sender.metrics.value("offload_sender_points_dropped_total", reason="gave_up") == 10


async def test_duplicate_ack_counts_as_delivered():
    sender, ts = make_sender(n=1)
    await sender.start()
    b1 = lines_batch(0)
    ts[0].seen.add(b1.batch_id)
    results = []
    b1.on_done = lambda b, ok: results.append(ok)
    await sender.submit(b1)
    assert await sender.drain(5)
    await sender.close()
    assert results == [True]
    assert sender.metrics.value("offload_sender_batches_total", receiver="rx0", result="duplicate") == 1


async def test_spill_takes_overflow_and_survives_restart(tmp_path):
    spill = tmp_path / "spill"
    sender, ts = make_sender(queue_batches=2, concurrency=1, spill_dir=str(spill))
    for t in ts:
        t.mode = "down"
    await sender.start()
    batches = [lines_batch(i, spillable=True) for i in range(8)]
    for b in batches:
        assert await sender.offer(b)
    spilled = len(list(spill.glob("*.batch")))
    assert spilled >= 5
    # A tailed batch never spills (its file is its buffer): it takes memory room or is refused.
    accepted = 0
    while await sender.offer(lines_batch(50 + accepted)):
        accepted += 1
        assert accepted <= 2
    assert sender.queue.memory_depth == 2
    assert len(list(spill.glob("*.batch"))) == spilled
    await sender.close(timeout=0.1)  # spillable leftovers in memory are spilled too
    assert len(list(spill.glob("*.batch"))) == 8

    # A new sender (agent restart) replays them with their original ids.
    sender2, ts2 = make_sender(spill_dir=str(spill))
    await sender2.start()
    assert await sender2.drain(5)
    await sender2.close()
    got = set(ts2[0].accepted + ts2[1].accepted)
    assert got == {b.batch_id for b in batches}
    assert list(spill.glob("*.batch")) == []


async def test_spilled_batch_keeps_payload(tmp_path):
    sender, ts = make_sender(n=1, queue_batches=1, concurrency=1, spill_dir=str(tmp_path))
    ts[0].mode = "down"
    await sender.start()
    b = Batch(source="app", pipeline="app2", lines=["a", "b"], times=[1, 2], hop=2, token="tkn_x", spillable=True)
    await sender.offer(lines_batch(0, spillable=True))
    await sender.offer(lines_batch(1, spillable=True))
    await sender.offer(b)
    await sender.close(timeout=0.05)
    from offload.sender import SpillStore

    store = SpillStore(tmp_path)
    loaded = [store.take() for _ in range(len(store))]
    back = next(x for x in loaded if x.batch_id == b.batch_id)
    assert (back.source, back.pipeline, back.lines, back.times, back.hop, back.token) == (
        "app", "app2", ["a", "b"], [1, 2], 2, "tkn_x")


@pytest.mark.parametrize("mode", ["down", "busy"])
async def test_never_dropped_while_one_receiver_is_healthy(mode):
    sender, ts = make_sender(n=3)
    ts[0].mode = mode
    ts[2].mode = "down"
    await sender.start()
    results = []
    for i in range(50):
        await sender.submit(lines_batch(i, results))
    assert await sender.drain(10)
    await sender.close()
    assert len(results) == 50 and all(ok for _, ok in results)
    assert len(ts[1].accepted) == 50


async def test_an_unexpected_error_drops_the_batch_but_not_the_task():
    sender, ts = make_sender(n=1, concurrency=1)

    async def broken(batch):
        raise ValueError("cannot encode")

    ts[0].send = broken
    await sender.start()
    results = []
    await sender.submit(lines_batch(0, results))
    assert await sender.drain(5)
    assert results[0][1] is False
    assert sender.metrics.value("offload_sender_points_dropped_total", reason="error") == 10
    del ts[0].send  # back to the working method: the same task still delivers
    await sender.submit(lines_batch(1, results))
    assert await sender.drain(5)
    await sender.close()
    assert results[1][1] is True
