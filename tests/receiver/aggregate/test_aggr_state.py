"""StateLog: records survive a reopen, torn tails are cut, segments rotate and are collected."""

from __future__ import annotations

import asyncio

from receiver.aggregate import StateLog


def test_records_round_trip_and_torn_tail_is_truncated(tmp_path):
    async def write():
        log = StateLog(tmp_path)
        log.load()
        log.open(0, 0, set())
        log.append_batch("tkn_a", 100, 110, 120, b"body-1")
        log.append_flushed(111, "tkn_a", [110])
        log.append_batch("tkn_b", 101, 120, 130, b"body-2")
        await log.sync()
        await log.close()

    asyncio.run(write())
    seg = sorted(tmp_path.iterdir())[-1]
    intact = seg.stat().st_size
    with open(seg, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00garbage")  # a record cut short by kill -9
    log = StateLog(tmp_path)
    replay = log.load()
    assert list(replay.bodies()) == [("tkn_a", 100, b"body-1"), ("tkn_b", 101, b"body-2")]
    assert replay.flushed == {(110, "tkn_a")}
    assert replay.watermark == 111 and replay.truncated == 11
    assert seg.stat().st_size == intact
    assert log.segments[-1].max_key == 130


def test_rotation_carries_live_markers_and_collect_deletes_dead_segments(tmp_path):
    async def scenario():
        log = StateLog(tmp_path, segment_bytes=1)
        log.load()
        log.open(0, 0, set())
        log.append_batch("tkn_a", 100, 110, 110, b"old")
        log.append_flushed(110, "tkn_a", [110])
        await log.rotate(watermark=110, horizon=105, flushed={(110, "tkn_a")})
        log.append_batch("tkn_a", 111, 120, 120, b"new")
        await log.sync()
        assert log.collect(horizon=105) == 0  # the first segment still has bucket 110 > 105
        assert log.collect(horizon=110) == 1
        await log.close()

    asyncio.run(scenario())
    replay = StateLog(tmp_path).load()
    assert list(replay.bodies()) == [("tkn_a", 111, b"new")]
    assert replay.flushed == {(110, "tkn_a")}  # carried into the new segment's head
    assert (replay.watermark, replay.horizon) == (110, 105)
