"""GitLab: project/group webhooks with a secret token."""

from ingest.gitlab import gitlab_sender
from metricsync.sources.registration import SourceRegistration
from normalizer.gitlab import map_gitlab
from schemas.sources import GITLAB_MAPPED_EVENTS, Source

GITLAB = SourceRegistration(
    source=Source.GITLAB,
    title="GitLab",
    senders=lambda config: [gitlab_sender(config.gitlab_token, allow_unsigned=config.allow_unsigned)],
    mapper=map_gitlab,
    mapped_events=GITLAB_MAPPED_EVENTS,
    secret_fields=("gitlab_token",),
    docs_anchor="docs/events.md#54-gitlab-normalizergitlabpy",
)
