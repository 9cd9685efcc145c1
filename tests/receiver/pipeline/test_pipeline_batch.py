"""run_batch: script per point (source or name), pass-through, drops, errors, extra points, order."""

from __future__ import annotations

from core_support import t_builtins  # noqa: F401  (fixture)

from offload.point import Point
from receiver.pipeline import BatchResult, ScriptStore, run_batch
from receiver.pipeline.batch import MAX_ERROR_SAMPLES


def pts(*names_msgs):
    return [Point(n, {}, {"message": m}, 1) for n, m in names_msgs]


def store_with(tmp_path, **scripts):
    for name, text in scripts.items():
        path = tmp_path / f"{name}.p"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ScriptStore(tmp_path)


def test_script_by_point_name_and_pass_through(tmp_path):
    store = store_with(tmp_path, app='add_key(seen, "app")', web='add_key(seen, "web")')
    batch = pts(("app", "1"), ("other", "2"), ("web", "3"), ("app", "4"))
    res = run_batch(store, "logging", batch)
    assert isinstance(res, BatchResult)
    assert [p.fields["message"] for p in res.points] == ["1", "2", "3", "4"]
    assert [p.fields.get("seen") for p in res.points] == ["app", None, "web", "app"]
    assert res.unprocessed == 1 and res.errors == 0 and res.dropped == 0
    assert res.points[1].fields == {"message": "2"}  # untouched: no status added either


def test_source_overrides_the_point_name(tmp_path):
    store = store_with(tmp_path, nginx='add_key(seen, "nginx")')
    res = run_batch(store, "logging", pts(("a", "1"), ("b", "2")), source="nginx")
    assert [p.fields["seen"] for p in res.points] == ["nginx", "nginx"]
    assert [p.name for p in res.points] == ["a", "b"]


def test_drops_and_errors(tmp_path):
    store = store_with(tmp_path, app='if _ == "drop" { drop() }\nif _ == "err" { x = 1 + "a" }\nadd_key(ok, true)')
    batch = pts(("app", "keep"), ("app", "drop"), ("app", "err"), ("app", "keep2"))
    res = run_batch(store, "logging", batch)
    assert [p.fields["message"] for p in res.points] == ["keep", "err", "keep2"]
    assert res.dropped == 1 and res.errors == 1
    assert res.error_samples == ["app.p:2:23: unsupported operand type(s) for +: int and str"]
    failed = res.points[1]
    assert "ok" not in failed.fields and "status" not in failed.fields


def test_error_samples_are_bounded(tmp_path):
    store = store_with(tmp_path, app="x = nil + 1")
    res = run_batch(store, "logging", pts(*[("app", str(i)) for i in range(3 * MAX_ERROR_SAMPLES)]))
    assert res.errors == 3 * MAX_ERROR_SAMPLES
    assert len(res.error_samples) == MAX_ERROR_SAMPLES
    assert len(res.points) == 3 * MAX_ERROR_SAMPLES


def test_extra_points_follow_their_parent(tmp_path, t_builtins):
    store = store_with(tmp_path, **{"metric/app": '_t_emit("sub_" + _)\nif _ == "b" { drop() }'})
    res = run_batch(store, "metric", pts(("app", "a"), ("app", "b"), ("app", "c")))  # _t_emit makes metric points
    assert [p.name for p in res.points] == ["app", "sub_a", "sub_b", "app", "sub_c"]
    sub = res.points[1]
    assert sub.time == 5 and "time" not in sub.fields  # time promotion applies to extra points


def test_create_point_of_another_category_is_set_aside(tmp_path):
    store = store_with(tmp_path, app='create_point("errs", {"h": "x"}, {"n": 1}, category="M")\n'
                                     'create_point("same", {}, {"n": 2}, category="L")')
    res = run_batch(store, "logging", pts(("app", "a")))
    assert [p.name for p in res.points] == ["app", "same"]  # the batch's own category follows its parent
    assert list(res.side) == ["metric"]
    [m] = res.side["metric"]
    assert (m.name, m.tags, m.fields, m.time) == ("errs", {"h": "x"}, {"n": 1}, 1)


def test_other_categories_use_their_directory(tmp_path):
    store = store_with(tmp_path, **{"metric/cpu": "add_key(v, 1)"})
    batch = [Point("cpu", {}, {"usage": 1.0}, 1)]
    res = run_batch(store, "metric", batch)
    assert res.points[0].fields == {"usage": 1.0, "v": 1}
    assert run_batch(store, "logging", [Point("cpu", {}, {"usage": 1.0}, 1)]).unprocessed == 1


def test_empty_batch(tmp_path):
    res = run_batch(ScriptStore(tmp_path), "logging", [])
    assert res == BatchResult()


def test_default_script_names_per_category(tmp_path):
    store = store_with(tmp_path, **{"tracing/checkout": 'add_key(by, "service")', "rum/app1_view": 'add_key(by, "rum")',
                                    "security/intrusion": 'add_key(by, "sec")', "keyevent/k8s": 'add_key(by, "ke")'})
    cases = [
        ("tracing", Point("span", {"service": "checkout"}, {"d": 1}, 1), "service"),
        ("rum", Point("view", {"app_id": "app1"}, {"d": 1}, 1), "rum"),
        ("security", Point("x", {}, {"category": "intrusion"}, 1), "sec"),
        ("keyevent", Point("x", {}, {"df_source": "k8s"}, 1), "ke"),
        ("tracing", Point("span", {}, {"d": 1}, 1), None),
    ]
    for category, pt, want in cases:
        res = run_batch(store, category, [pt])
        assert res.points[0].fields.get("by") == want, category
        assert res.unprocessed == (1 if want is None else 0)
