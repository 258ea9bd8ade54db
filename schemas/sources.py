"""The senders MetricSync accepts webhooks from."""

from enum import StrEnum


class Source(StrEnum):
    GITHUB = "github"
    JENKINS = "jenkins"
    ALERTMANAGER = "alertmanager"


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
