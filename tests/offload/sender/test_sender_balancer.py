"""RoundRobinBalancer: one shared counter, ejection with backoff, probing back in, busy cooling."""

import asyncio

import pytest

from fakes_sender import FakeClock, FakeTransport
from offload.sender.balancer import NoReceiverError, RoundRobinBalancer


def make(n=3, **kw):
    clock = FakeClock()
    ts = [FakeTransport(f"rx{i}") for i in range(n)]
    return RoundRobinBalancer(ts, clock=clock, eject_base=1.0, eject_max=8.0, **kw), ts, clock


def test_round_robin_is_one_counter_for_everyone():
    b, ts, _ = make(3)
    picks = [b.pick().name for _ in range(9)]
    assert picks == ["rx0", "rx1", "rx2"] * 3


async def test_concurrent_tasks_share_the_rotation():
    b, ts, _ = make(2)
    counts = {"rx0": 0, "rx1": 0}

    async def task():
        for _ in range(25):
            ep = await b.acquire()
            counts[ep.name] += 1
            await asyncio.sleep(0)

    await asyncio.gather(*(task() for _ in range(8)))
    assert counts == {"rx0": 100, "rx1": 100}


async def test_failure_ejects_with_exponential_backoff_and_probe_readmits():
    b, ts, clock = make(2)
    ep0 = b.endpoints[0]
    b.report_failure(ep0)
    assert not ep0.healthy and ep0.retry_at == clock.now + 1.0
    assert [b.pick().name for _ in range(4)] == ["rx1"] * 4
    # Not due yet: no probe.
    await b.probe_due()
    assert ts[0].probes == 0
    clock.advance(1.0)
    ts[0].mode = "down"
    await b.probe_due()  # probe fails: ejected again for twice as long
    assert ts[0].probes == 1 and not ep0.healthy and ep0.retry_at == clock.now + 2.0
    clock.advance(2.0)
    ts[0].mode = "ok"
    await b.probe_due()
    assert ep0.healthy
    # The failure streak survives the probe: the next failure ejects for 4 s, a success resets it.
    b.report_failure(ep0)
    assert ep0.retry_at == clock.now + 4.0
    b.report_success(ep0)
    assert ep0.healthy and ep0.failures == 0


def test_backoff_is_capped_and_concurrent_failures_count_once():
    b, ts, clock = make(2)
    ep = b.endpoints[0]
    for _ in range(10):
        b.report_failure(ep)  # same outage seen by ten in-flight requests
    assert ep.failures == 1
    for _ in range(10):
        ep.healthy = True
        b.report_failure(ep)
    assert ep.retry_at - clock.now == 8.0


def test_busy_cools_down_without_probe():
    b, ts, clock = make(2, busy_delay=0.5)
    ep0 = b.endpoints[0]
    b.report_failure(ep0, busy=True)
    assert ep0.busy and ep0.failures == 0
    assert b.pick().name == "rx1" and b.pick().name == "rx1"
    clock.advance(0.5)
    assert {b.pick().name, b.pick().name} == {"rx0", "rx1"}


async def test_acquire_waits_for_a_receiver_and_prefers_another_one():
    b, ts, clock = make(2)
    ep0, ep1 = b.endpoints
    assert (await b.acquire(exclude=[ep0])) is ep1
    assert (await b.acquire(exclude=[ep0])) is ep1
    b.report_failure(ep0)
    assert (await b.acquire(exclude=[ep1])) is ep1  # the only healthy one, even if excluded
    b.report_failure(ep1)
    assert b.outage() == 0.0
    waiter = asyncio.ensure_future(b.acquire())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    clock.advance(1.5)
    assert b.outage() == 1.5
    await b.probe_due()
    assert (await asyncio.wait_for(waiter, 1)) in (ep0, ep1)
    assert b.outage() == 0.0


async def test_acquire_timeout_raises():
    b, ts, clock = make(1)
    b.report_failure(b.endpoints[0])
    with pytest.raises(NoReceiverError):
        await b.acquire(timeout=0.0)


async def test_background_prober_uses_real_time():
    ts = [FakeTransport("a"), FakeTransport("b")]
    b = RoundRobinBalancer(ts, eject_base=0.05, eject_max=0.1)
    b.start()
    try:
        b.report_failure(b.endpoints[0])
        b.report_failure(b.endpoints[1])
        ep = await asyncio.wait_for(b.acquire(), 2)
        assert ep.healthy and ts[0].probes + ts[1].probes >= 1
    finally:
        await b.aclose()
    assert ts[0].closed and ts[1].closed
