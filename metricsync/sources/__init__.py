"""The sources MetricSync accepts deliveries from: one registration per module, listed once here.

To add a source: its ingest module (verifier + identity -> `Sender`), its mapper, a `Source` member,
its secret field in `IngestConfig`, a module here with its `SourceRegistration`, and one line below
(docs/architecture.md, "How to add a source"). The app, health checks, settings summary and docs
check loop over `REGISTRY`.
"""

from collections.abc import Mapping
from types import MappingProxyType

from ingest.config import IngestConfig
from ingest.sender import Sender
from metricsync.sources.alertmanager import ALERTMANAGER
from metricsync.sources.cdevents import CDEVENTS
from metricsync.sources.github import GITHUB
from metricsync.sources.gitlab import GITLAB
from metricsync.sources.jenkins import JENKINS
from metricsync.sources.opsgenie import OPSGENIE
from metricsync.sources.pagerduty import PAGERDUTY
from metricsync.sources.push import PUSH
from metricsync.sources.registration import SourceRegistration
from schemas.sources import Source

REGISTRY: tuple[SourceRegistration, ...] = (GITHUB, JENKINS, ALERTMANAGER, GITLAB, PAGERDUTY, OPSGENIE, CDEVENTS, PUSH)
BY_SOURCE: Mapping[Source, SourceRegistration] = MappingProxyType({reg.source: reg for reg in REGISTRY})


def all_senders(config: IngestConfig) -> list[Sender]:
    """Every registered source's endpoints, verified as `config` says."""
    return [sender for registration in REGISTRY for sender in registration.senders(config)]


def verification_summary(config: IngestConfig) -> str:
    """One line for the startup log: which sources verify what."""
    parts = []
    for registration in REGISTRY:
        name = registration.source.value
        if registration.configured(config):
            parts.append(f"{name}=on")
        elif config.allow_unsigned:
            parts.append(f"{name}=OFF (METRICSYNC_ALLOW_UNSIGNED=true)")
        else:
            parts.append(f"{name}=rejecting (no secret set)")
    return " ".join(parts)


__all__ = ["BY_SOURCE", "REGISTRY", "SourceRegistration", "all_senders", "verification_summary"]
