"""point_window() / window_hit(): the dropped context of an interesting point, per stream (ptwindow.py)."""

from __future__ import annotations

import pytest

from offload.point import Point
from receiver.pipeline import CompileError, ScriptStore, compile_script, run_batch
from receiver.pipeline import ptwindow

# Keep only ERROR lines, plus up to 2 dropped lines before one and the next lines up to
# `after` points counting the ERROR line itself.
SCRIPT = '''
point_window({before}, {after}, ["host"])
if match("ERROR", _) {{
    window_hit()
}} else {{
    drop()
}}
'''


def _store(tmp_path, text: str) -> ScriptStore:
    (tmp_path / "app.p").write_text(text)
    return ScriptStore(str(tmp_path))


def _points(messages: list[str], host: str | None = "h1") -> list[Point]:
    tags = {"host": host} if host is not None else {}
    return [Point("app", dict(tags), {"message": m}, i + 1) for i, m in enumerate(messages)]


def _messages(res) -> list[str]:
    return [p.fields["message"] for p in res.points]


def test_hit_keeps_the_held_context_and_the_points_after(tmp_path):
    store = _store(tmp_path, SCRIPT.format(before=2, after=2))
    res = run_batch(store, "logging", _points(["a", "b", "c", "d", "ERROR x", "f", "g", "h"]))
    # ERROR kept (first of `after`), c and d released from the ring, f is the second of `after`
    assert _messages(res) == ["ERROR x", "c", "d", "f"]
    assert [p.time for p in res.points] == [5, 3, 4, 6]  # released points keep their own times
    assert res.errors == 0


def test_kept_points_take_ring_slots_without_being_emitted_twice(tmp_path):
    store = _store(tmp_path, '''
point_window(3, 1, ["host"])
if match("ERROR", _) { window_hit() } elif match("keep", _) { add_key(k, 1) } else { drop() }
''')
    res = run_batch(store, "logging", _points(["a", "b", "keep", "c", "ERROR", "d"]))
    # the ring of 3 holds b, keep (an empty slot: it was written already), c
    assert _messages(res) == ["keep", "ERROR", "b", "c"]


def test_state_carries_over_batches_and_streams_are_separate(tmp_path):
    store = _store(tmp_path, SCRIPT.format(before=1, after=2))
    assert _messages(run_batch(store, "logging", _points(["a", "b"], host="h1"))) == []
    assert _messages(run_batch(store, "logging", _points(["z"], host="h2"))) == []
    # h1's ring still holds b (the batch before); h2's z is not in h1's stream
    res = run_batch(store, "logging", _points(["ERROR", "c", "d"], host="h1"))
    assert _messages(res) == ["ERROR", "b", "c"]


def test_a_point_outside_any_stream_joins_no_window(tmp_path):
    store = _store(tmp_path, SCRIPT.format(before=5, after=5))
    res = run_batch(store, "logging", _points(["a", "ERROR", "b"], host=None))
    assert _messages(res) == ["ERROR"]


def test_default_stream_tags_are_filepath_and_host(tmp_path):
    store = _store(tmp_path, '''
point_window(1, 1)
if match("ERROR", _) { window_hit() } else { drop() }
''')
    pts = [Point("app", {"host": "h", "filepath": "/var/log/a.log"}, {"message": m}, i + 1)
           for i, m in enumerate(["a", "b", "ERROR"])]
    assert _messages(run_batch(store, "logging", pts)) == ["ERROR", "b"]


def test_before_zero_keeps_only_the_points_after(tmp_path):
    store = _store(tmp_path, SCRIPT.format(before=0, after=3))
    res = run_batch(store, "logging", _points(["a", "ERROR", "b", "c", "d"]))
    assert _messages(res) == ["ERROR", "b", "c"]


def test_window_hit_without_point_window_changes_nothing(tmp_path):
    store = _store(tmp_path, '''
if match("ERROR", _) { window_hit() } else { drop() }
''')
    assert _messages(run_batch(store, "logging", _points(["a", "ERROR", "b"]))) == ["ERROR"]


@pytest.mark.parametrize("call, message", [
    ('point_window("2", 2, ["host"])', "before and after must be int"),
    ('point_window(2, 2, "host")', "stream_tags must be a list"),
])
def test_bad_arguments_are_runtime_errors_on_the_point(call, message):
    script = compile_script(f"{call}\nadd_key(after_call, 1)\n", "w.p")
    pt = Point("app", {"host": "h1"}, {"message": "m"}, 1)
    res = script.run(pt)
    assert message in res.error
    assert "after_call" not in pt.fields and not res.dropped


def test_missing_arguments_do_not_compile():
    with pytest.raises(CompileError):
        compile_script("point_window(2)\n", "w.p")


def test_streams_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(ptwindow, "MAX_STREAMS", 3)
    store = _store(tmp_path, SCRIPT.format(before=2, after=1))
    for host in ("h1", "h2", "h3", "h4"):  # h4 pushes h1, the least recently used, out
        run_batch(store, "logging", _points(["x"], host=host))
    assert _messages(run_batch(store, "logging", _points(["ERROR"], host="h1"))) == ["ERROR"]
    assert _messages(run_batch(store, "logging", _points(["ERROR"], host="h4"))) == ["ERROR", "x"]
