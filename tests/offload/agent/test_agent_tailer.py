"""FileTailer: batches, acked positions, restart, rotation by rename and truncation, odd lines."""

import os

import pytest

from offload.agent.positions import PositionStore
from offload.agent.tailer import FileTailer, split_lines


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Collector:
    """Stands in for the router: records batches; acks on demand."""

    def __init__(self, auto_ack=True):
        self.batches = []  # (lines, batch_id, on_done)
        self.auto_ack = auto_ack

    async def __call__(self, lines, read_time, batch_id, on_done):
        assert read_time > 0
        self.batches.append((lines, batch_id, on_done))
        if self.auto_ack:
            on_done(True)

    @property
    def lines(self):
        return [line for b in self.batches for line in b[0]]

    def ack_all(self):
        for _, _, done in self.batches:
            done(True)


def write(path, text, mode="a"):
    with open(path, mode) as f:
        f.write(text)


def make(tmp_path, patterns, sink, store=None, batch_size=3, **kw):
    clock = Clock()
    store = store or PositionStore(tmp_path / "positions.json")
    kw.setdefault("from_beginning", True)
    t = FileTailer([str(p) for p in patterns], sink, store, batch_size, scan_interval=0, rotate_grace=1.0,
                   clock=clock, **kw)
    return t, store, clock


def test_split_lines_covers_every_byte():
    chunk = b"a\r\nb\n\nccc\n\xff\xfe\nd\n"
    batches = split_lines(chunk, 2)
    assert sum(n for _, n in batches) == len(chunk)
    assert [lines for lines, _ in batches] == [["a", "b"], ["ccc"], ["\ufffd\ufffd", "d"]]
    assert split_lines(chunk, 100) == [(["a", "b", "ccc", "\ufffd\ufffd", "d"], len(chunk))]
    # raw: valid UTF-8 stays bytes (gRPC RawLines takes it as is); invalid falls back to str
    assert split_lines(chunk, 2, raw=True) == batches
    ok = "a\r\nbé\n\nc\n".encode()
    raw = split_lines(ok, 2, raw=True)
    assert raw == [([b"a", "bé".encode()], 7), ([b"c"], 3)]
    assert sum(n for _, n in raw) == len(ok)


async def test_reads_batches_and_saves_acked_position(tmp_path):
    log = tmp_path / "app.log"
    write(log, "".join(f"line {i}\n" for i in range(7)) + "partial")
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink)
    assert await t.poll() == 7
    assert [len(b[0]) for b in sink.batches] == [3, 3, 1]
    assert sink.lines == [f"line {i}" for i in range(7)]
    key = next(iter(store.entries))
    assert store.get(key).offset == log.stat().st_size - len("partial")
    write(log, " end\n")
    assert await t.poll() == 1 and sink.lines[-1] == "partial end"
    store.save()
    assert PositionStore(tmp_path / "positions.json").get(key).offset == log.stat().st_size


async def test_out_of_order_acks_commit_only_the_prefix(tmp_path):
    log = tmp_path / "app.log"
    write(log, "".join(f"l{i}\n" for i in range(9)))
    sink = Collector(auto_ack=False)
    t, store, _ = make(tmp_path, [log], sink)
    await t.poll()
    key = next(iter(store.entries))
    (_, _, d0), (_, _, d1), (_, _, d2) = sink.batches
    d2(True)
    assert store.get(key).offset == 0
    d0(True)
    assert store.get(key).offset == 9
    d1(True)
    assert store.get(key).offset == 27


async def test_restart_resumes_after_acked_lines_with_the_same_batch_ids(tmp_path):
    log = tmp_path / "app.log"
    write(log, "".join(f"l{i}\n" for i in range(9)))
    sink = Collector(auto_ack=False)
    t, store, _ = make(tmp_path, [log], sink)
    await t.poll()
    sink.batches[0][2](True)  # only the first batch acked before the "crash"
    store.save()
    t.close()

    sink2 = Collector()
    t2, _, _ = make(tmp_path, [log], sink2, store=PositionStore(tmp_path / "positions.json"), from_beginning=False)
    await t2.poll()
    assert sink2.lines == [f"l{i}" for i in range(3, 9)], "nothing lost, nothing acked re-sent"
    assert [b[1] for b in sink2.batches] == [b[1] for b in sink.batches[1:]], "resends keep their ids"


async def test_new_file_starts_at_end_unless_from_beginning(tmp_path):
    log = tmp_path / "app.log"
    write(log, "old\n")
    sink = Collector()
    t, _, _ = make(tmp_path, [log], sink, from_beginning=False)
    await t.poll()
    write(log, "new\n")
    await t.poll()
    assert sink.lines == ["new"]
    # A file appearing later is read from its beginning.
    other = tmp_path / "later.log"
    t.patterns.append(str(other))
    write(other, "first\n")
    await t.poll()
    assert sink.lines == ["new", "first"]


async def test_rotation_by_rename_reads_old_tail_then_new_file(tmp_path):
    log = tmp_path / "app.log"
    write(log, "a1\na2\n")
    sink = Collector()
    t, store, clock = make(tmp_path, [log], sink)
    await t.poll()
    os.rename(log, tmp_path / "app.log.1")
    write(tmp_path / "app.log.1", "a3\n")  # the writer has not reopened yet
    write(log, "b1\n", mode="w")
    await t.poll()
    assert sorted(sink.lines) == ["a1", "a2", "a3", "b1"]
    assert len(t.files) == 2
    write(tmp_path / "app.log.1", "a4-no-newline")
    await t.poll()
    clock.now += 1.5
    await t.poll()  # quiet for the grace period: last partial line flushed
    await t.poll()  # ... and the old file closed
    assert sink.lines.count("a4-no-newline") == 1
    assert len(t.files) == 1 and len(store.entries) == 1
    write(log, "b2\n")
    await t.poll()
    assert sorted(sink.lines) == ["a1", "a2", "a3", "a4-no-newline", "b1", "b2"]


async def test_rotated_file_matching_the_glob_is_followed(tmp_path):
    log = tmp_path / "app.log"
    write(log, "a1\n")
    sink = Collector()
    t, store, clock = make(tmp_path, [tmp_path / "app.log*"], sink)
    await t.poll()
    os.rename(log, tmp_path / "app.log.1")
    write(tmp_path / "app.log.1", "a2\n")
    write(log, "b1\n")
    await t.poll()
    clock.now += 5
    await t.poll()
    assert sorted(sink.lines) == ["a1", "a2", "b1"]
    assert sorted(e.path for e in store.entries.values()) == [str(log), str(tmp_path / "app.log.1")]


async def test_truncation_restarts_from_zero(tmp_path):
    log = tmp_path / "app.log"
    write(log, "one\ntwo\nthree\n")
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink)
    await t.poll()
    write(log, "x\n", mode="w")  # copytruncate, then a new line
    await t.poll()
    assert sink.lines == ["one", "two", "three", "x"]
    assert next(iter(store.entries.values())).offset == 2


async def test_rotated_while_down_reads_new_file_from_start(tmp_path):
    log = tmp_path / "app.log"
    write(log, "a1\na2\n")
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink)
    await t.poll()
    store.save()
    t.close()
    os.rename(log, tmp_path / "old.log")
    write(log, "b1\n")
    sink2 = Collector()
    t2, _, _ = make(tmp_path, [log], sink2, store=PositionStore(tmp_path / "positions.json"), from_beginning=False)
    await t2.poll()
    assert sink2.lines == ["b1"]


async def test_fingerprint_mismatch_means_a_new_file(tmp_path):
    log = tmp_path / "app.log"
    write(log, "original content\n")
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink)
    await t.poll()
    store.save()
    t.close()
    # Same inode (rewritten in place while we were down), different content, longer than before.
    write(log, "replaced content here\nmore\n", mode="w")
    sink2 = Collector()
    t2, _, _ = make(tmp_path, [log], sink2, store=PositionStore(tmp_path / "positions.json"), from_beginning=False)
    await t2.poll()
    assert sink2.lines == ["replaced content here", "more"]


@pytest.mark.parametrize("size", [10, 1000])
async def test_many_lines_cover_the_file_exactly(tmp_path, size):
    log = tmp_path / "big.log"
    write(log, "".join(f"{i} " + "é" * (i % 7) + "\n" for i in range(5000)))
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink, batch_size=size)
    await t.poll()
    assert sink.lines == [f"{i} " + "é" * (i % 7) for i in range(5000)]
    assert next(iter(store.entries.values())).offset == log.stat().st_size
    assert len({b[1] for b in sink.batches}) == len(sink.batches)


async def test_a_blocked_downstream_stops_the_reading(tmp_path):
    import asyncio

    log = tmp_path / "app.log"
    write(log, "".join(f"l{i}\n" for i in range(30)))
    gate = asyncio.Event()
    got = []

    async def slow_sink(lines, read_time, batch_id, on_done):
        got.append(lines)
        await gate.wait()  # like Sender.submit with a full queue
        on_done(True)

    t, store, _ = make(tmp_path, [log], slow_sink)
    task = asyncio.ensure_future(t.poll())
    await asyncio.sleep(0.05)
    assert len(got) == 1 and t.lines_read == 3, "nothing more is read while the downstream waits"
    assert next(iter(store.entries.values())).offset == 0
    gate.set()
    assert await asyncio.wait_for(task, 5) == 30
    assert next(iter(store.entries.values())).offset == log.stat().st_size


@pytest.mark.parametrize("raw", [False, True])
async def test_raw_mode_hands_out_bytes_with_the_same_offsets(tmp_path, raw):
    log = tmp_path / "app.log"
    write(log, "".join(f"{i} é\n" for i in range(50)))
    sink = Collector()
    t, store, _ = make(tmp_path, [log], sink, batch_size=7, raw=raw)
    await t.poll()
    want = [f"{i} é" for i in range(50)]
    assert sink.lines == ([w.encode() for w in want] if raw else want)
    assert next(iter(store.entries.values())).offset == log.stat().st_size
