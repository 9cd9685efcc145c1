"""The deployment files in examples/ parse and agree with each other (names, ports, paths)."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

EX = Path(__file__).resolve().parent.parent / "examples"


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((EX / "k8s" / name).read_text()) if d]


def by_kind(items: list[dict], kind: str) -> list[dict]:
    return [d for d in items if d["kind"] == kind]


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def receivers():
    items = docs("receivers.yaml")
    cm = by_kind(items, "ConfigMap")[0]
    return {
        "service": by_kind(items, "Service")[0],
        "sts": by_kind(items, "StatefulSet")[0],
        "config": tomllib.loads(cm["data"]["receiver.toml"]),
        "configmap": cm,
    }


def test_every_manifest_parses_with_kind_and_name():
    for path in sorted((EX / "k8s").glob("*.yaml")):
        for d in yaml.safe_load_all(path.read_text()):
            assert d["apiVersion"] and d["kind"] and d["metadata"]["name"], path


def test_statefulset_headless_service_and_wal_volume(receivers):
    svc, sts, cfg = receivers["service"], receivers["sts"], receivers["config"]
    assert svc["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert cfg["dataway"]["wal_dir"].startswith(mounts[claim] + "/"), "the WAL must live on the persistent volume"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/ping"


def test_ports_match_the_receiver_config(receivers):
    svc, sts, cfg = receivers["service"], receivers["sts"], receivers["config"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    cports = {p["name"]: p["containerPort"] for p in container["ports"]}
    sports = {p["name"]: p["targetPort"] for p in svc["spec"]["ports"]}
    assert cports == sports == {"http": port_of(cfg["http"]["listen"]), "grpc": port_of(cfg["grpc"]["listen"])}
    assert container["readinessProbe"]["httpGet"]["port"] == cports["http"]


def test_proxy_endpoints_name_every_statefulset_pod(receivers):
    sts, svc, cfg = receivers["sts"], receivers["service"], receivers["config"]
    dep = by_kind(docs("aggregate-proxy.yaml"), "Deployment")[0]
    env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DW_AGGREGATOR_MODE"] == "proxy"
    endpoints = env["DW_AGGREGATOR_ENDPOINTS"].split(",")
    name, service = sts["metadata"]["name"], svc["metadata"]["name"]
    want = [f"http://{name}-{i}.{service}:{port_of(cfg['http']['listen'])}" for i in range(sts["spec"]["replicas"])]
    assert endpoints == want
    assert port_of(env["ENV_HTTP_LISTEN"]) == dep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]


def test_agent_daemonset_offloads_to_the_statefulset_pods(receivers):
    sts, svc, cfg = receivers["sts"], receivers["service"], receivers["config"]
    items = docs("agent-daemonset.yaml")
    agent_cfg = tomllib.loads(by_kind(items, "ConfigMap")[0]["data"]["agent.toml"])
    addresses = agent_cfg["pipeline"]["offload"]["addresses"]
    hosts = {f"{sts['metadata']['name']}-{i}.{svc['metadata']['name']}" for i in range(sts["spec"]["replicas"])}
    for address in addresses:
        parts = urlsplit(address)
        assert parts.scheme == "grpc" and parts.hostname in hosts
        assert parts.port == port_of(cfg["grpc"]["listen"])
    ds = by_kind(items, "DaemonSet")[0]
    container = ds["spec"]["template"]["spec"]["containers"][0]
    listen = port_of(agent_cfg["http"]["listen"])
    assert container["ports"][0]["containerPort"] == listen
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert port_of(env["ENV_HTTP_LISTEN"]) == listen, "ENV_HTTP_LISTEN wins over the file and the image sets it"



def test_example_configs_parse_and_agree():
    receiver = tomllib.loads((EX / "receiver.toml").read_text())
    agent = tomllib.loads((EX / "agent.toml").read_text())
    tomllib.loads((EX / "rules.toml").read_text())
    grpc_port = port_of(receiver["grpc"]["listen"])
    assert any(urlsplit(a).port == grpc_port for a in agent["pipeline"]["offload"]["addresses"])
    assert port_of(agent["http"]["listen"]) != port_of(receiver["http"]["listen"])
    for inp in agent["inputs"]["file"]:
        for p in inp["paths"]:
            assert (EX.parent / p).is_file(), p
        assert (EX.parent / agent["pipeline"]["scripts_dir"] / f"{inp['source']}.p").is_file()


def test_systemd_unit_is_notify_with_restart_and_persistent_wal():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string((EX / "systemd" / "offload-receiver.service").read_text())
    svc = unit["Service"]
    assert svc["Type"] == "notify"
    assert svc["Restart"] == "on-failure"
    assert svc["ExecStart"].split()[1:3] == ["serve", "--config"]
    state = "/var/lib/" + svc["StateDirectory"]
    assert f"DATAWAY__WAL_DIR={state}/" in svc["Environment"]


def test_dockerfile_exposes_the_configured_ports():
    text = (EX / "Dockerfile").read_text()
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
    assert exposed == {9529, 9530}
    assert "ENV_HTTP_LISTEN=0.0.0.0:9529" in text and "GRPC__LISTEN=0.0.0.0:9530" in text
