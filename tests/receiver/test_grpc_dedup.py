"""DedupWindow: resends answered from memory, concurrent attempts of one batch do the work once, LRU bound."""

from __future__ import annotations

import asyncio

from receiver.grpc import DedupWindow


async def test_accepted_batches_are_remembered_up_to_the_capacity():
    window = DedupWindow(capacity=3)
    for i in range(4):
        assert await window.claim(bytes([i])) is None
        window.done(bytes([i]), 10 + i)
    assert window.accepted(bytes([0])) is None  # evicted, oldest first
    assert [window.accepted(bytes([i])) for i in (1, 2, 3)] == [11, 12, 13]
    assert len(window) == 3


async def test_a_concurrent_resend_waits_for_the_first_attempt():
    window = DedupWindow()
    assert await window.claim(b"b") is None
    second = asyncio.create_task(window.claim(b"b"))
    await asyncio.sleep(0.01)
    assert not second.done()  # waits instead of redoing the batch
    window.done(b"b", 7)
    assert await second == 7


async def test_a_failed_first_attempt_lets_the_resend_do_the_work():
    window = DedupWindow()
    assert await window.claim(b"b") is None
    second = asyncio.create_task(window.claim(b"b"))
    await asyncio.sleep(0.01)
    window.done(b"b", None)  # the first attempt was refused (e.g. 429)
    assert await second is None  # the resend now owns the batch
    window.done(b"b", 3)
    assert await window.claim(b"b") == 3


async def test_capacity_zero_remembers_nothing():
    window = DedupWindow(capacity=0)
    assert await window.claim(b"x") is None
    window.done(b"x", 1)
    assert await window.claim(b"x") is None
