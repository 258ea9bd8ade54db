import pytest

from normalizer.rules import MappingRules, rules_fingerprint
from schemas.catalog import ServiceCatalog, ServiceEntry
from schemas.errors import ConfigError, MetricSyncError
from tests.unit.normalizer.factories import DEFAULT_RULES


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param("production", True, id="production"),
        pytest.param("prod", True, id="prod"),
        pytest.param("Production", True, id="case-insensitive"),
        pytest.param("prod-eu", True, id="prod-dash-region"),
        pytest.param("production.us_east", True, id="production-dot"),
        pytest.param("prod_blue", True, id="prod-underscore"),
        pytest.param("preprod", False, id="preprod"),
        pytest.param("production-like", True, id="production-dash-anything"),
        pytest.param("products", False, id="products"),
        pytest.param("staging", False, id="staging"),
        pytest.param("github-pages", False, id="github-pages"),
        pytest.param("", False, id="empty"),
    ],
)
def test_default_production_pattern(environment: str, expected: bool) -> None:
    assert DEFAULT_RULES.is_production(environment) is expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"alert_match": 'severity=~"("'}, "alert_match .*invalid regular expression", id="matcher-regex"),
        pytest.param({"alert_match": "severity critical"}, "alert_match .*not a valid matcher list", id="matcher"),
        pytest.param({"production_pattern": "(?i"}, "production_pattern .*not a valid regular", id="production"),
        pytest.param({"jenkins_deploy_pattern": "["}, "jenkins_deploy_pattern", id="deploy"),
        pytest.param({"jenkins_rollback_pattern": "a)"}, "jenkins_rollback_pattern", id="rollback"),
        pytest.param({"jenkins_production_job_pattern": "*"}, "jenkins_production_job_pattern", id="prod-job"),
        pytest.param(
            {"alert_service_labels": "service"}, "alert_service_labels: Input should be a valid tuple", id="type"
        ),
        pytest.param({"unknown_setting": 1}, "unknown_setting: Extra inputs are not permitted", id="extra"),
    ],
)
def test_bad_rules_raise_config_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        MappingRules(**kwargs)
    assert isinstance(caught.value, MetricSyncError)  # the one root (ConfigError: schemas.errors)
    assert isinstance(caught.value, ValueError)


def test_matchers_are_parsed_once_when_built() -> None:
    rules = MappingRules(alert_match='{severity="page", team!="infra"}')
    assert [str(m) for m in rules.alert_matchers] == ['severity="page"', 'team!="infra"']
    assert rules.alert_counts({"severity": "page", "team": "checkout"})
    assert not rules.alert_counts({"severity": "page", "team": "infra"})


def test_rules_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        DEFAULT_RULES.incident_label = "outage"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        pytest.param("Acme/Payments-API", "payments", id="repo-alias-case-insensitive"),
        pytest.param("payments-deploy", "payments", id="job-alias"),
        pytest.param(" PAYMENTS ", "payments", id="service-name-itself"),
        pytest.param("Codertocat/Hello-World", "codertocat/hello-world", id="no-alias-lower-cased"),
    ],
)
def test_service_resolution_through_catalog(identifier: str, expected: str) -> None:
    catalog = ServiceCatalog(
        services={"payments": ServiceEntry(aliases=["acme/payments-api", "payments-deploy"], team="checkout")}
    )
    assert MappingRules(catalog=catalog).service(identifier) == expected


def test_incident_label_is_case_insensitive() -> None:
    assert DEFAULT_RULES.is_incident_label("Incident")
    assert DEFAULT_RULES.is_incident_label(" INCIDENT ")
    assert not DEFAULT_RULES.is_incident_label("incidents")
    assert MappingRules(incident_label="Outage").is_incident_label("outage")


@pytest.mark.parametrize(
    ("change", "same"),
    [
        pytest.param({"catalog": {"services": {"acme/shop": {"team": "web"}}}}, True, id="team-only"),
        pytest.param({"catalog": {"services": {"acme/shop": {"aliases": []}}}}, True, id="entry-naming-itself"),
        pytest.param({"catalog": {"services": {"shop": {"aliases": ["acme/shop"]}}}}, False, id="alias"),
        pytest.param({"jenkins_deploy_pattern": "(?i)release"}, False, id="jenkins-pattern"),
        pytest.param({"alert_match": 'severity="page"'}, False, id="alert-match"),
    ],
)
def test_rules_fingerprint_changes_with_what_shapes_events(change: dict[str, object], same: bool) -> None:
    base = rules_fingerprint(MappingRules())
    assert (rules_fingerprint(MappingRules.model_validate(change)) == base) is same
