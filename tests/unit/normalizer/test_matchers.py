import pytest

from normalizer.matchers import Matcher, MatchOp, matches_all, parse_matchers
from schemas.errors import ConfigError

CRITICAL = {"alertname": "High CPU Temperature", "host": "andromeda", "severity": "critical"}
WARNING = {"alertname": "high_memory_load", "job": "docker_nodes", "severity": "warning"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('severity=~"critical|page"', [("severity", "=~", "critical|page")], id="default"),
        pytest.param(
            '{severity="critical", team!="infra"}',
            [("severity", "=", "critical"), ("team", "!=", "infra")],
            id="braces-two-matchers",
        ),
        pytest.param("severity=critical,", [("severity", "=", "critical")], id="unquoted-trailing-comma"),
        pytest.param("  job !~ `node.*` ", [("job", "!~", "node.*")], id="backquoted-spaces"),
        pytest.param(r'alertname=~"a\\.b"', [("alertname", "=~", r"a\.b")], id="escaped-backslash"),
        pytest.param(r"summary='say \"hi\"'", [("summary", "=", 'say "hi"')], id="single-quoted-escapes"),
        pytest.param('team=""', [("team", "=", "")], id="empty-value"),
        pytest.param("", [], id="empty-list"),
        pytest.param("{}", [], id="empty-braces"),
    ],
)
def test_parse(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(m.name, m.op.value, m.value) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        pytest.param('severity=~"critical|page"', CRITICAL, True, id="regex-match"),
        pytest.param('severity=~"critical|page"', WARNING, False, id="regex-no-match"),
        pytest.param('severity=~"crit"', CRITICAL, False, id="regex-fully-anchored"),
        pytest.param('severity=~"crit.*"', CRITICAL, True, id="regex-prefix"),
        pytest.param('severity!~"warning|info"', CRITICAL, True, id="not-regex-match"),
        pytest.param('severity!~"warning|info"', WARNING, False, id="not-regex-no-match"),
        pytest.param('severity="critical"', CRITICAL, True, id="equal"),
        pytest.param('severity="Critical"', CRITICAL, False, id="equal-is-case-sensitive"),
        pytest.param('job!="docker_nodes"', WARNING, False, id="not-equal"),
        pytest.param('team!="infra"', CRITICAL, True, id="not-equal-absent-label"),
        pytest.param('team=""', CRITICAL, True, id="equal-empty-means-absent"),
        pytest.param('team=~".+"', CRITICAL, False, id="regex-absent-label-is-empty"),
        pytest.param('severity="critical",host="andromeda"', CRITICAL, True, id="all-must-match"),
        pytest.param('severity="critical",host="io"', CRITICAL, False, id="one-fails"),
        pytest.param("", WARNING, True, id="empty-list-matches-all"),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert matches_all(parse_matchers(text), labels) is expected


def test_regex_dot_matches_newline_like_prometheus() -> None:
    assert matches_all(parse_matchers('summary=~"a.b"'), {"summary": "a\nb"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('severity=~"("', "invalid regular expression", id="bad-regex"),
        pytest.param("severity critical", "expected one of =, !=, =~, !~", id="no-operator"),
        pytest.param('severity=="critical"', "unexpected quote", id="double-equals"),
        pytest.param('severity="critical', "unterminated", id="unterminated-quote"),
        pytest.param('{severity="critical"', "expected ',' or '}'", id="unclosed-brace"),
        pytest.param('severity="a" team="b"', "expected ',' between matchers", id="missing-comma"),
        pytest.param('="critical"', "expected a label name", id="no-name"),
        pytest.param('1abc="x"', "expected a label name", id="name-starts-with-digit"),
        pytest.param("severity=", "expected a value", id="no-value"),
        pytest.param(r'alertname=~"a\.b"', "unknown escape", id="go-rejects-unknown-escape"),
        pytest.param('{a="b"} c', "unexpected text after '}'", id="text-after-brace"),
    ],
)
def test_bad_syntax_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_matchers(text)
    assert isinstance(caught.value, ValueError)
    assert "alert_match" in str(caught.value)


def test_matcher_str_round_trips() -> None:
    matchers = parse_matchers('{severity=~"critical|page", summary!="say \\"hi\\""}')
    assert ",".join(str(m) for m in matchers) == 'severity=~"critical|page",summary!="say \\"hi\\""'
    assert parse_matchers(",".join(str(m) for m in matchers)) == matchers
    assert Matcher.create("a", MatchOp.EQUAL, "b") == Matcher.create("a", MatchOp.EQUAL, "b")
