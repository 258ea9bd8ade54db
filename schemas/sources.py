"""The senders MetricSync accepts deliveries from."""

from enum import StrEnum


class Source(StrEnum):
    GITHUB = "github"
    JENKINS = "jenkins"
    ALERTMANAGER = "alertmanager"
    GITLAB = "gitlab"
    PAGERDUTY = "pagerduty"
    OPSGENIE = "opsgenie"
    CDEVENTS = "cdevents"
    PUSH = "push"  # the generic push API (`POST /api/v1/deployments|incidents`), DevLake's shapes too


# GitHub event types (X-GitHub-Event) the normalizer maps to unified events. Any other type is
# stored raw and answered `ignored`; `ping` is answered 200 and not stored.
GITHUB_MAPPED_EVENTS: frozenset[str] = frozenset(
    {"push", "deployment_status", "pull_request", "issues", "workflow_run"}
)

# Not a webhook: the record `metricsync import github` makes of the commits between two deployed shas
# (the compare API), mapped like a push from the earlier sha to the later one. Ingest never accepts it.
GITHUB_IMPORT_COMPARE = "metricsync.import.compare"
# Not a webhook: a finished build as `metricsync import jenkins` reads it from Jenkins' JSON API.
JENKINS_IMPORT_BUILD = "metricsync.import.build"
# Not a webhook: one firing run of a Prometheus `ALERTS` series, as `metricsync import prometheus` reads it.
PROMETHEUS_IMPORT_ALERT = "metricsync.import.alert"

# GitLab event types (X-Gitlab-Event) the normalizer maps; others are stored and answered `ignored`.
GITLAB_MAPPED_EVENTS: frozenset[str] = frozenset(
    {"Push Hook", "Deployment Hook", "Merge Request Hook", "Pipeline Hook", "Issue Hook"}
)

# PagerDuty V3 event types (`event.event_type`) the normalizer maps.
PAGERDUTY_MAPPED_EVENTS: frozenset[str] = frozenset({"incident.triggered", "incident.resolved"})

# Opsgenie webhook actions (`action`) the normalizer maps.
OPSGENIE_MAPPED_ACTIONS: frozenset[str] = frozenset({"Create", "Close"})

# CDEvents subject.predicate pairs the normalizer maps (any 0.x version of each event's schema).
CDEVENTS_MAPPED_TYPES: frozenset[str] = frozenset(
    {
        "service.deployed",
        "service.rolledback",
        "incident.detected",
        "incident.reported",
        "incident.resolved",
        "change.merged",
        "pipelinerun.finished",
    }
)
CDEVENTS_PREFIX = "dev.cdevents."


def cdevents_kind(event_type: str) -> str | None:
    """`subject.predicate` of a CDEvents type of the supported 0.x line
    (`dev.cdevents.service.deployed.0.3.0` -> `service.deployed`), else None."""
    if not event_type.startswith(CDEVENTS_PREFIX):
        return None
    parts = event_type[len(CDEVENTS_PREFIX) :].split(".")
    if len(parts) != 5:
        return None
    subject, predicate, major, minor, patch = parts
    if major != "0" or not minor.isdigit() or not patch.partition("-")[0].isdigit():
        return None
    kind = f"{subject}.{predicate}"
    return kind if kind in CDEVENTS_MAPPED_TYPES else None
# Not webhooks: what `metricsync import gitlab` reads from GitLab's REST API, one kind per object.
GITLAB_IMPORT_DEPLOYMENT = "metricsync.import.gitlab.deployment"
GITLAB_IMPORT_COMPARE = "metricsync.import.gitlab.compare"
GITLAB_IMPORT_MERGE_REQUEST = "metricsync.import.gitlab.merge_request"
GITLAB_IMPORT_ISSUE = "metricsync.import.gitlab.issue"
