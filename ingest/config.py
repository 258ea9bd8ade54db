"""Settings of the ingest HTTP surface: which secrets verify which sender, and how big a body may be."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

MIB = 1024 * 1024


class IngestConfig(BaseModel):
    """Verification and limits of the webhook endpoints, built once by the runtime from env settings.

    Verification rules (one per source):

    * A source whose secret/token is configured always verifies it: a request with a missing or
      wrong signature/token gets 401, whatever `allow_unsigned` says.
    * A source with no secret/token rejects every request with 401 naming the variable to set
      (`METRICSYNC_<FIELD>`: `METRICSYNC_GITHUB_SECRET`, `METRICSYNC_GITLAB_TOKEN`...),
      unless `allow_unsigned` is true: then that source accepts requests unverified and the health
      endpoints report its verification as "off".

    An empty or blank secret counts as not configured (an empty HMAC key or token protects nothing).
    `github_allow_sha1` also accepts the legacy `X-Hub-Signature` (HMAC-SHA1) when a request carries
    no `X-Hub-Signature-256`. `max_body_bytes` bounds every request body (GitHub caps payloads at 25 MB).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    github_secret: SecretStr | None = None
    github_allow_sha1: bool = False
    jenkins_token: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    gitlab_token: SecretStr | None = None  # X-Gitlab-Token
    pagerduty_secret: SecretStr | None = None  # V3 signing secret
    opsgenie_token: SecretStr | None = None
    cdevents_token: SecretStr | None = None
    push_token: SecretStr | None = None  # the push API (POST /api/v1/deployments|incidents)
    allow_unsigned: bool = False
    max_body_bytes: int = Field(default=25 * MIB, gt=0)

    @field_validator(
        "github_secret",
        "jenkins_token",
        "alertmanager_token",
        "gitlab_token",
        "pagerduty_secret",
        "opsgenie_token",
        "cdevents_token",
        "push_token",
    )
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value
