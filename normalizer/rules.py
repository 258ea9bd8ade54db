"""`MappingRules`: the normalizer's configuration, built once by the runtime from its settings.

Patterns are Python regular expressions searched anywhere in the text (anchor them with ^...$ to
match the whole text). They and the alert matcher list are compiled once, when the rules are built;
a bad one raises `ConfigError` naming the setting.
"""

import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from normalizer.matchers import Matcher, matches_all, parse_matchers
from schemas.catalog import ServiceCatalog
from schemas.errors import ConfigError

_PATTERN_SETTINGS = (
    "production_pattern",
    "jenkins_production_job_pattern",
    "jenkins_deploy_pattern",
    "jenkins_rollback_pattern",
)


class MappingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # an environment name is production when this matches it (all sources)
    production_pattern: str = r"(?i)^(prod|production)([-_.].*)?$"
    # Jenkins: build parameter naming the service, parameters naming the environment (first set wins)
    jenkins_service_parameter: str = "SERVICE"
    jenkins_environment_parameters: tuple[str, ...] = ("ENVIRONMENT", "ENV", "DEPLOY_ENV")
    # Jenkins, no environment parameter: a job whose full name matches deploys to production
    jenkins_production_job_pattern: str = r"(?i)prod"
    # Jenkins: builds of matching jobs are deployments
    jenkins_deploy_pattern: str = r"(?i)deploy"
    # rollbacks: Jenkins job full names, and GitHub `deployment.task` / `deployment.description`
    jenkins_rollback_pattern: str = r"(?i)rollback"
    # Alertmanager: labels naming the service / the environment (first present wins)
    alert_service_labels: tuple[str, ...] = ("service", "app", "job")
    alert_environment_labels: tuple[str, ...] = ("environment", "env")
    # Alertmanager: only alerts whose labels match this Prometheus-style matcher list are incidents
    alert_match: str = 'severity=~"critical|page"'
    # GitHub and GitLab: issues carrying this label (case-insensitive) are incidents (GitLab: also
    # issues of type Incident)
    incident_label: str = "incident"
    # PagerDuty: incidents whose labels `urgency` (high|low) and `priority` (P1..., "" when none)
    # match this matcher list count; "" counts every incident
    pagerduty_match: str = 'urgency="high"'
    # Opsgenie: alerts whose label `priority` (P1..P5) matches count; "" counts every alert
    opsgenie_match: str = 'priority=~"P1|P2"'
    catalog: ServiceCatalog = Field(default_factory=ServiceCatalog)

    _alert_matchers: tuple[Matcher, ...] = PrivateAttr(default=())
    _pagerduty_matchers: tuple[Matcher, ...] = PrivateAttr(default=())
    _opsgenie_matchers: tuple[Matcher, ...] = PrivateAttr(default=())

    if not TYPE_CHECKING:  # keep the typed signature the pydantic mypy plugin generates

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as e:
                for err in e.errors():
                    cause = err.get("ctx", {}).get("error")
                    if isinstance(cause, ConfigError):
                        raise cause from e
                problems = "; ".join(
                    f"{'.'.join(str(part) for part in err['loc']) or 'rules'}: {err['msg']}" for err in e.errors()
                )
                raise ConfigError(f"Invalid mapping rules: {problems}") from e

    def model_post_init(self, context: object, /) -> None:
        _ = self.patterns  # compiled (and checked) now, not on first use
        self._alert_matchers = parse_matchers(self.alert_match, setting="alert_match")
        self._pagerduty_matchers = parse_matchers(self.pagerduty_match, setting="pagerduty_match")
        self._opsgenie_matchers = parse_matchers(self.opsgenie_match, setting="opsgenie_match")

    @cached_property
    def patterns(self) -> dict[str, re.Pattern[str]]:
        """The pattern settings, compiled. A cached property: read for every event mapped, and
        pydantic private attributes are read through __getattr__."""
        compiled: dict[str, re.Pattern[str]] = {}
        for setting in _PATTERN_SETTINGS:
            text = getattr(self, setting)
            try:
                compiled[setting] = re.compile(text)
            except re.error as e:
                raise ConfigError(f"{setting} {text!r} is not a valid regular expression: {e}") from e
        return compiled

    @property
    def alert_matchers(self) -> tuple[Matcher, ...]:
        return self._alert_matchers

    def service(self, identifier: str) -> str:
        """The service id an identifier (repo full name, job name, alert label) stands for."""
        return self.catalog.resolve(identifier)

    def is_production(self, environment: str) -> bool:
        return self.patterns["production_pattern"].search(environment) is not None

    def is_production_job(self, job: str) -> bool:
        return self.patterns["jenkins_production_job_pattern"].search(job) is not None

    def is_deploy_job(self, job: str) -> bool:
        return self.patterns["jenkins_deploy_pattern"].search(job) is not None

    def is_rollback(self, text: str) -> bool:
        return self.patterns["jenkins_rollback_pattern"].search(text) is not None

    def alert_counts(self, labels: dict[str, str]) -> bool:
        return matches_all(self._alert_matchers, labels)

    def pagerduty_counts(self, labels: dict[str, str]) -> bool:
        return matches_all(self._pagerduty_matchers, labels)

    def opsgenie_counts(self, labels: dict[str, str]) -> bool:
        return matches_all(self._opsgenie_matchers, labels)

    def is_incident_label(self, name: str) -> bool:
        return name.strip().casefold() == self.incident_label.strip().casefold()


def rules_fingerprint(rules: MappingRules) -> str:
    """A digest of everything in `rules` that shapes the events derived from a delivery: the patterns, the
    labels and parameters read, and the catalog's service ids and aliases (not its teams, which are read
    when a report is asked for). Equal fingerprints: the same deliveries give the same events."""
    import hashlib
    import json

    document = rules.model_dump(mode="json", exclude={"catalog"})
    # only what resolves differently from the default (an identifier is its own service, lower-cased)
    document["catalog"] = sorted([alias, service] for alias, service in rules.catalog.index.items() if alias != service)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
