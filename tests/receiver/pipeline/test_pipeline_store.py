"""ScriptStore: layout, compile-once caching, hot reload, last good version, error counting."""

from __future__ import annotations

import logging
import os

from core_support import point
from prometheus_client import REGISTRY

from receiver.pipeline import ScriptStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    # Make every write visible to the stat check even within one mtime tick.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def counter(label: str) -> float:
    return REGISTRY.get_sample_value("pipeline_script_compile_errors_total", {"script": label}) or 0.0


def test_layout_logging_and_other_categories(tmp_path):
    write(tmp_path / "nginx.p", 'add_key(from_, "logging")')
    write(tmp_path / "metric" / "cpu.p", 'add_key(from_, "metric")')
    store = ScriptStore(tmp_path)
    assert store.get("logging", "nginx").name == "nginx.p"
    assert store.get("metric", "cpu").name == "metric/cpu.p"
    assert store.get("metric", "nginx") is None
    assert store.get("logging", "cpu") is None


def test_names_cannot_escape_the_directory(tmp_path):
    write(tmp_path / "x.p", "a = 1")
    write(tmp_path / "sub" / "y.p", "a = 1")
    store = ScriptStore(tmp_path)
    for name in ("../x", "sub/y", ".hidden", "", "a\x00b"):
        assert store.get("logging", name) is None
    assert store.get("..", "x") is None


def test_compiled_once_and_cached(tmp_path):
    clock = Clock()
    write(tmp_path / "a.p", "x = 1")
    store = ScriptStore(tmp_path, clock=clock)
    first = store.get("logging", "a")
    clock.now += 5
    assert store.get("logging", "a") is first  # unchanged file: same compiled script


def test_changed_file_is_recompiled_after_the_check_interval(tmp_path):
    clock = Clock()
    path = tmp_path / "a.p"
    write(path, 'add_key(v, 1)')
    store = ScriptStore(tmp_path, clock=clock)
    first = store.get("logging", "a")
    write(path, 'add_key(v, 2)')
    clock.now += 0.5
    assert store.get("logging", "a") is first  # at most one look per second
    clock.now += 0.6
    second = store.get("logging", "a")
    assert second is not first
    pt = point()
    second.run(pt)
    assert pt.fields["v"] == 2


def test_same_content_rewritten_is_not_recompiled(tmp_path):
    clock = Clock()
    path = tmp_path / "a.p"
    write(path, "x = 1")
    store = ScriptStore(tmp_path, clock=clock)
    first = store.get("logging", "a")
    write(path, "x = 1")
    clock.now += 2
    assert store.get("logging", "a") is first


def test_broken_file_keeps_last_good_version_and_counts(tmp_path, caplog):
    clock = Clock()
    path = tmp_path / "keep.p"
    write(path, 'add_key(v, "good")')
    store = ScriptStore(tmp_path, clock=clock)
    good = store.get("logging", "keep")
    before = counter("keep.p")
    write(path, 'add_key(v, "bad"')
    clock.now += 2
    with caplog.at_level(logging.ERROR, logger="receiver.pipeline.store"):
        assert store.get("logging", "keep") is good
    assert store.compile_errors == 1
    assert counter("keep.p") == before + 1
    assert "keep.p" in caplog.text and "keeping the last good version" in caplog.text
    assert "expected ',' or ')' to close the call to add_key" in store.error("logging", "keep")
    clock.now += 2
    assert store.get("logging", "keep") is good
    assert store.compile_errors == 1  # the same broken content is not compiled (or counted) again
    write(path, 'add_key(v, "fixed")')
    clock.now += 2
    fixed = store.get("logging", "keep")
    assert fixed is not good and store.error("logging", "keep") is None


def test_never_compiling_file_is_not_loaded(tmp_path):
    write(tmp_path / "bad.p", "x = (")
    store = ScriptStore(tmp_path)
    assert store.get("logging", "bad") is None
    assert store.compile_errors == 1
    assert counter("bad.p") >= 1


def test_deleted_file_unloads_the_script(tmp_path):
    clock = Clock()
    path = tmp_path / "gone.p"
    write(path, "x = 1")
    store = ScriptStore(tmp_path, clock=clock)
    assert store.get("logging", "gone") is not None
    path.unlink()
    clock.now += 2
    assert store.get("logging", "gone") is None


def test_missing_file_appears_later(tmp_path):
    clock = Clock()
    store = ScriptStore(tmp_path, clock=clock)
    assert store.get("logging", "late") is None
    write(tmp_path / "late.p", "x = 1")
    assert store.get("logging", "late") is None  # negative answers are cached too
    clock.now += 2
    assert store.get("logging", "late") is not None


def test_reload_forces_a_rescan(tmp_path):
    clock = Clock()
    path = tmp_path / "r.p"
    write(path, "add_key(v, 1)")
    store = ScriptStore(tmp_path, clock=clock)
    first = store.get("logging", "r")
    write(path, "add_key(v, 2)")
    store.reload()
    assert store.get("logging", "r") is not first


def test_use_resolves_scripts_of_the_same_category(tmp_path):
    write(tmp_path / "main.p", 'add_key(a, 1)\nuse("helper")\nadd_key(c, 3)')
    write(tmp_path / "helper.p", 'add_key(b, 2)')
    store = ScriptStore(tmp_path)
    pt = point()
    r = store.get("logging", "main").run(pt)
    assert r.error is None
    assert (pt.fields["a"], pt.fields["b"], pt.fields["c"]) == (1, 2, 3)


def test_budget_is_configurable(tmp_path):
    write(tmp_path / "spin.p", "for ;; { }")
    store = ScriptStore(tmp_path, budget=0.02)
    r = store.get("logging", "spin").run(point())
    assert "budget of 20 ms exceeded" in r.error
