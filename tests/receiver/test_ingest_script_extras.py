"""Points a script adds besides its own, through a real receiver to the Dataway stand-in:
create_point(category="M") lands in /v1/write/metric with the batch's token,
point_window()/window_hit() release a stream's dropped context, and agg_create()/agg_metric()
buckets live in the daemon (one per node, fed by every worker) and emit on their interval
and at shutdown."""

from __future__ import annotations

from test_daemon_harness import HOST_TOKEN, TOKEN, post, scripts_dir, start_receiver, wait_until

SCRIPT = '''
point_window(2, 2, ["host"])
if match("ERROR", _) {
    window_hit()
    create_point("app_errors", {"host": host}, {"count": 1}, category="M")
} else {
    drop()
}
'''


def test_script_extra_points_reach_their_category(procs, dataway, tmp_path):
    scripts = scripts_dir(tmp_path, {"app": SCRIPT})
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", scripts=scripts)
    lines = ["a", "b", "c", "d", "ERROR disk full", "f", "g", "h"]
    body = "\n".join(f'app,host=h1 message="{m}" {1_700_000_000_000_000_000 + i}'
                     for i, m in enumerate(lines)).encode()
    r = post(rx, "/v1/write/logging", body, params={"token": HOST_TOKEN})
    assert r.status_code == 200, r.text

    logs = dataway.wait_points(4, category="logging")
    metrics = dataway.wait_points(1, category="metric")
    assert sorted(p.fields["message"] for p in logs) == ["ERROR disk full", "c", "d", "f"]
    assert [(p.name, p.tags, p.fields["count"]) for p in metrics] == [("app_errors", {"host": "h1"}, 1)]
    assert metrics[0].time == 1_700_000_000_000_000_004  # the parent point's time
    # both land in the workspace of the batch's token
    assert {req.token for req in dataway.ok_requests()} == {HOST_TOKEN}


AGG_SCRIPT = '''
add_key(one, 1)
agg_create("app_lines", on_interval="{interval}", const_tags={{"src": "offload"}})
agg_metric("app_lines", "lines", "sum", ["host"], "one")
agg_metric("app_lines", "bytes_max", "max", ["host"], "size")
'''


def _agg_body(batch: int, n: int) -> bytes:
    return "\n".join(f'app,host=h{i % 2} message="b{batch} l{i}",size={batch * 100 + i}i {1_700_000_000_000_000_000 + i}'
                     for i in range(n)).encode()


def test_agg_buckets_are_per_node_and_flushed_at_shutdown(procs, dataway, tmp_path):
    scripts = scripts_dir(tmp_path, {"app": AGG_SCRIPT.format(interval="1h")})
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", scripts=scripts, workers=2)
    for batch in range(6):  # the pool hands them to its workers; the buckets are the daemon's
        assert post(rx, "/v1/write/logging", _agg_body(batch, 10)).status_code == 200
    dataway.wait_points(60, category="logging")
    assert dataway.points("metric") == []  # an hour-long interval: nothing yet
    rx.proc.terminate()
    assert rx.proc.wait(30) == 0, rx.output()
    metrics = dataway.wait_points(2, category="metric")
    # one point per host holding all six batches, whichever worker ran each
    got = {p.tags["host"]: (p.name, p.tags["src"], p.fields) for p in metrics}
    assert got == {"h0": ("app_lines", "offload", {"lines": 30.0, "bytes_max": 508.0}),
                   "h1": ("app_lines", "offload", {"lines": 30.0, "bytes_max": 509.0})}


def test_agg_buckets_emit_on_their_interval(procs, dataway, tmp_path):
    scripts = scripts_dir(tmp_path, {"app": AGG_SCRIPT.format(interval="1s")})
    rx = start_receiver(procs, tmp_path, f"{dataway.url}?token={TOKEN}", scripts=scripts)
    assert post(rx, "/v1/write/logging", _agg_body(0, 10), params={"token": HOST_TOKEN}).status_code == 200
    wait_until(lambda: len(dataway.points("metric")) >= 2, timeout=20, what="the interval's emission")
    metrics = dataway.points("metric")
    assert sorted((p.tags["host"], p.fields["lines"]) for p in metrics) == [("h0", 5.0), ("h1", 5.0)]
    assert {r.token for r in dataway.ok_requests() if r.category == "metric"} == {HOST_TOKEN}
