"""Jenkins: the Notification Plugin and the CloudEvents plugin, with a token."""

from ingest.app import jenkins_sender
from ingest.identity import CE_RUN_TYPES, JENKINS_NOTIFICATION
from metricsync.sources.registration import SourceRegistration
from normalizer.jenkins import map_jenkins
from schemas.sources import Source

JENKINS = SourceRegistration(
    source=Source.JENKINS,
    title="Jenkins",
    senders=lambda config: [jenkins_sender(config)],
    mapper=map_jenkins,
    mapped_events=frozenset({JENKINS_NOTIFICATION}) | CE_RUN_TYPES,
    secret_fields=("jenkins_token",),
    docs_anchor="docs/events.md#52-jenkins-normalizerjenkins_formatspy-normalizerjenkinspy",
)
