"""The source registry: one registration per source, consistent with the core's tables and the docs."""

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from ingest.config import IngestConfig
from metricsync.sources import BY_SOURCE, REGISTRY, all_senders, verification_summary
from metricsync.sources.registration import SourceRegistration
from normalizer.mapping import MAPPERS
from schemas.sources import Source

ROOT = Path(__file__).resolve().parents[3]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower-case, punctuation but - and _ dropped, spaces to -."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_every_source_has_exactly_one_registration() -> None:
    assert [reg.source for reg in REGISTRY] == list(Source)
    assert set(BY_SOURCE) == set(Source)


@pytest.mark.parametrize("registration", REGISTRY, ids=lambda r: r.source.value)
def test_registration_agrees_with_the_core(registration: SourceRegistration) -> None:
    assert MAPPERS[registration.source] is registration.mapper
    for field in registration.secret_fields:
        assert field in IngestConfig.model_fields
    senders = registration.senders(IngestConfig())
    assert senders
    assert {sender.source for sender in senders} == {registration.source}


@pytest.mark.parametrize("registration", REGISTRY, ids=lambda r: r.source.value)
def test_docs_cover_each_source(registration: SourceRegistration) -> None:
    page, _, anchor = registration.docs_anchor.partition("#")
    assert anchor in _anchors((ROOT / page).read_text(encoding="utf-8")), registration.docs_anchor
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for variable in registration.secret_variables:
        assert variable.removeprefix("METRICSYNC_") in readme, variable


def test_paths_are_unique_and_named_for_their_source() -> None:
    senders = all_senders(IngestConfig())
    paths = [sender.path for sender in senders]
    assert len(paths) == len(set(paths))
    for sender in senders:
        if sender.source is not Source.PUSH:
            assert sender.path == f"/webhooks/{sender.source.value}"
    assert {s.path for s in senders if s.source is Source.PUSH} == {"/api/v1/deployments", "/api/v1/incidents"}


def test_verification_summary_names_every_source() -> None:
    config = IngestConfig(gitlab_token=SecretStr("t"))
    summary = verification_summary(config)
    assert "gitlab=on" in summary
    assert "pagerduty=rejecting (no secret set)" in summary
    assert all(f"{reg.source.value}=" in summary for reg in REGISTRY)
