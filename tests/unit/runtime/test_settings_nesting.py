"""Settings nests the ingest and mapping configs (each field declared once, in ingest/config.py and
normalizer/rules.py) while today's flat environment names keep working."""

import pytest
from pydantic import SecretStr, ValidationError

from ingest.config import IngestConfig
from metricsync.settings import Settings
from normalizer.rules import MappingRules

# every variable name documented before the nesting (README "Configuration"), with a value
OLD_NAMES = {
    "METRICSYNC_GITHUB_SECRET": "gh",
    "METRICSYNC_GITHUB_ALLOW_SHA1": "true",
    "METRICSYNC_JENKINS_TOKEN": "jt",
    "METRICSYNC_ALERTMANAGER_TOKEN": "at",
    "METRICSYNC_ALLOW_UNSIGNED": "true",
    "METRICSYNC_MAX_BODY_BYTES": "1048576",
    "METRICSYNC_PRODUCTION_PATTERN": "^live$",
    "METRICSYNC_JENKINS_SERVICE_PARAMETER": "APP",
    "METRICSYNC_JENKINS_ENVIRONMENT_PARAMETERS": "STAGE, TARGET",
    "METRICSYNC_JENKINS_PRODUCTION_JOB_PATTERN": "live",
    "METRICSYNC_JENKINS_DEPLOY_PATTERN": "ship",
    "METRICSYNC_JENKINS_ROLLBACK_PATTERN": "undo",
    "METRICSYNC_ALERT_SERVICE_LABELS": "app,team",
    "METRICSYNC_ALERT_ENVIRONMENT_LABELS": "stage",
    "METRICSYNC_ALERT_MATCH": 'severity="page"',
    "METRICSYNC_INCIDENT_LABEL": "outage",
}


def test_every_old_name_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OLD_NAMES.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    ingest, rules = settings.ingest_config(), settings.mapping_rules()
    assert ingest == IngestConfig(
        github_secret=SecretStr("gh"),
        github_allow_sha1=True,
        jenkins_token=SecretStr("jt"),
        alertmanager_token=SecretStr("at"),
        allow_unsigned=True,
        max_body_bytes=1048576,
    )
    assert rules.model_dump(exclude={"catalog"}) == MappingRules(
        production_pattern="^live$",
        jenkins_service_parameter="APP",
        jenkins_environment_parameters=("STAGE", "TARGET"),
        jenkins_production_job_pattern="live",
        jenkins_deploy_pattern="ship",
        jenkins_rollback_pattern="undo",
        alert_service_labels=("app", "team"),
        alert_environment_labels=("stage",),
        alert_match='severity="page"',
        incident_label="outage",
    ).model_dump(exclude={"catalog"})
    assert rules.is_production("live")


def test_new_sources_use_the_same_naming(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITLAB_TOKEN", "PAGERDUTY_SECRET", "OPSGENIE_TOKEN", "CDEVENTS_TOKEN", "PUSH_TOKEN"):
        monkeypatch.setenv(f"METRICSYNC_{name}", name.lower())
    monkeypatch.setenv("METRICSYNC_PAGERDUTY_MATCH", 'priority="P1"')
    monkeypatch.setenv("metricsync_opsgenie_match", "")  # names are case-insensitive
    settings = Settings()
    assert settings.ingest.gitlab_token == SecretStr("gitlab_token")
    assert settings.ingest.push_token == SecretStr("push_token")
    assert settings.mapping.pagerduty_match == 'priority="P1"'
    assert settings.mapping.opsgenie_match == ""


def test_nested_names_work_and_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICSYNC_GITHUB_SECRET", "flat")
    monkeypatch.setenv("METRICSYNC_INGEST__GITHUB_SECRET", "nested")
    monkeypatch.setenv("METRICSYNC_MAPPING__ALERT_SERVICE_LABELS", "x, y")
    monkeypatch.setenv("METRICSYNC_MAX_BODY_BYTES", "2048")
    settings = Settings()
    assert settings.ingest.github_secret == SecretStr("nested")
    assert settings.ingest.max_body_bytes == 2048  # flat names still fill the other fields
    assert settings.mapping.alert_service_labels == ("x", "y")


def test_constructor_takes_flat_and_nested_names() -> None:
    flat = Settings(github_secret="s", alert_match="", max_body_bytes=10)
    assert flat.ingest.github_secret == SecretStr("s")
    assert (flat.mapping.alert_match, flat.ingest.max_body_bytes) == ("", 10)
    nested = Settings(ingest=IngestConfig(jenkins_token=SecretStr("j")))
    assert nested.ingest.jenkins_token == SecretStr("j")


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("METRICSYNC_MAX_BODY_BYTES", "0", "max_body_bytes"),
        ("METRICSYNC_PRODUCTION_PATTERN", "(", "production_pattern"),
        ("METRICSYNC_ALERT_MATCH", "severity=", "alert_match"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_each_field_is_declared_once() -> None:
    own = set(Settings.model_fields)
    for model in (IngestConfig, MappingRules):
        assert not own & set(model.model_fields), "a field of a nested config is declared on Settings too"
