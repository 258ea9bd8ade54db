"""deploy/ cannot run here (no Docker engine, no cluster): validate what can be validated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from metricsync.cli import build_parser
from metricsync.settings import Settings

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
ROOT = DEPLOY.parent


def subcommands() -> set[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"]
    choices: dict[str, Any] = actions[0].choices  # type: ignore[assignment]
    return set(choices)


def k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
    result: list[dict[str, Any]] = template.get("spec", {}).get("containers", [])
    return result


def test_compose_parses_and_runs_only_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "mongo", "init", "ingest", "normalizer", "worker", "api"} <= set(services)
    for name, service in services.items():
        if service.get("image", "").startswith("metricsync") or "build" in service:
            command = service["command"][0]
            assert command in subcommands(), f"compose service {name} runs unknown command {command}"
            for dep in service.get("depends_on", {}):
                assert dep in services
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_dockerfile_copies_paths_that_exist_and_runs_the_cli() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert 'ENTRYPOINT ["metricsync"]' in text


def test_kubernetes_manifests_are_well_formed() -> None:
    docs = k8s_documents()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for name in ("metricsync-ingest", "metricsync-normalizer", "metricsync-worker", "metricsync-api"):
        assert any(n == name for _, n in kinds), name
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "kubernetes" / resource).exists(), resource
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc.get("metadata")


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "Job"])
def test_workloads_run_real_commands_with_probes_and_drain_time(kind: str) -> None:
    workloads = [d for d in k8s_documents() if d["kind"] == kind]
    assert workloads
    for doc in workloads:
        for container in containers(doc):
            assert container["image"] == "metricsync"
            assert container["args"][0] in subcommands()
            if kind != "Job":
                assert "livenessProbe" in container, doc["metadata"]["name"]
                assert "readinessProbe" in container, doc["metadata"]["name"]
                for probe in (container["livenessProbe"], container["readinessProbe"]):
                    if "exec" in probe:
                        assert probe["exec"]["command"][:2] == ["metricsync", "healthcheck"]
                ready = container["readinessProbe"]
                if "exec" in ready:  # consumers: not ready while Kafka or MongoDB is failing (docs/operations.md)
                    assert "--ready" in ready["exec"]["command"], doc["metadata"]["name"]
                grace = doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
                assert grace >= 15


def test_consumers_scale_on_lag_up_to_the_partition_count() -> None:
    docs = k8s_documents()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for d in docs if d["kind"] == "ScaledObject"}
    assert set(scaled) == {"metricsync-normalizer", "metricsync-worker"}
    partitions = {
        "metricsync.raw": config["METRICSYNC_RAW_PARTITIONS"],
        "metricsync.events": config["METRICSYNC_EVENTS_PARTITIONS"],
    }
    for name, obj in scaled.items():
        trigger = obj["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        topic = trigger["metadata"]["topic"]
        assert obj["spec"]["maxReplicaCount"] == int(partitions[topic]), name
        group = trigger["metadata"]["consumerGroup"]
        defaults = Settings()
        assert group == (defaults.normalizer_group if "normalizer" in name else defaults.worker_group)
        assert topic == (defaults.raw_topic if "normalizer" in name else defaults.events_topic)
