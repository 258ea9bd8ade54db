"""GitHub: repository/organization webhooks signed with HMAC-SHA256."""

from ingest.app import github_sender
from metricsync.sources.registration import SourceRegistration
from normalizer.github import map_github
from schemas.sources import GITHUB_MAPPED_EVENTS, Source

GITHUB = SourceRegistration(
    source=Source.GITHUB,
    title="GitHub",
    senders=lambda config: [github_sender(config)],
    mapper=map_github,
    mapped_events=GITHUB_MAPPED_EVENTS,
    secret_fields=("github_secret",),
    docs_anchor="docs/events.md#51-github-normalizergithubpy",
)
