"""Prometheus-style label matchers: `severity=~"critical|page", team!="infra"`.

Operators `=`, `!=`, `=~`, `!~`; matchers separated by commas (a trailing comma is fine), the list
optionally in braces. Values are double-, single- or back-quoted (Go escapes `\\ \" \' \n \t \r` in
the first two, none in back quotes) or, as Alertmanager allows, unquoted. Regexes are fully anchored
and `.` matches a newline, as in Prometheus (`^(?s:<re>)$`). A label that is absent has the value
"", so `team!="infra"` matches an alert without a team and `team=""` matches only those.
An empty list matches every label set.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NoReturn

from schemas.errors import ConfigError


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, op: MatchOp, value: str) -> "Matcher":
        regex = None
        if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            try:
                regex = re.compile(value, re.DOTALL)
            except re.error as e:
                raise ConfigError(f"matcher {name}{op}{_quote(value)}: invalid regular expression: {e}") from e
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self._regex is not None:
            found = self._regex.fullmatch(actual) is not None
            return found if self.op is MatchOp.REGEX else not found
        return (actual == self.value) if self.op is MatchOp.EQUAL else (actual != self.value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{_quote(self.value)}"


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OP = re.compile(r"=~|!~|!=|=")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}


def parse_matchers(text: str, *, setting: str = "alert_match") -> tuple[Matcher, ...]:
    """Parse a matcher list; a ConfigError names the setting, the position and what was expected."""
    return _Parser(text, setting).parse()


class _Parser:
    def __init__(self, text: str, setting: str) -> None:
        self.text = text
        self.setting = setting
        self.pos = 0

    def parse(self) -> tuple[Matcher, ...]:
        self._skip_space()
        braced = self._take("{")
        matchers: list[Matcher] = []
        while True:
            self._skip_space()
            if self.pos == len(self.text) or (braced and self._peek("}")):
                break
            matchers.append(self._matcher())
            self._skip_space()
            if not self._take(","):
                break
        self._skip_space()
        if braced and not self._take("}"):
            self._fail("expected ',' or '}'")
        self._skip_space()
        if self.pos != len(self.text):
            self._fail("expected ',' between matchers" if not braced else "unexpected text after '}'")
        return tuple(matchers)

    def _matcher(self) -> Matcher:
        name = _NAME.match(self.text, self.pos)
        if name is None:
            self._fail("expected a label name")
        self.pos = name.end()
        self._skip_space()
        op = _OP.match(self.text, self.pos)
        if op is None:
            self._fail("expected one of =, !=, =~, !~")
        self.pos = op.end()
        self._skip_space()
        value = self._value()
        try:
            return Matcher.create(name.group(), MatchOp(op.group()), value)
        except ConfigError as e:
            raise ConfigError(f"{self.setting} {self.text!r}: {e}") from None

    def _value(self) -> str:
        if self.pos == len(self.text):
            self._fail("expected a value")
        quote = self.text[self.pos]
        if quote == "`":
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                self._fail("unterminated `-quoted value")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return value
        if quote in "\"'":
            return self._quoted(quote)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",}":
            if self.text[self.pos] in "\"'`{":
                self._fail("unexpected quote or brace in an unquoted value")
            self.pos += 1
        value = self.text[start : self.pos].strip()
        if not value:
            self._fail('expected a value (write "" for the empty string)')
        return value

    def _quoted(self, quote: str) -> str:
        out: list[str] = []
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped not in _ESCAPES:
                    self._fail(f"unknown escape '\\{escaped}' (write '\\\\' for a literal backslash)")
                out.append(_ESCAPES[escaped])
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1
        self._fail(f"unterminated {quote}-quoted value")

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def _take(self, token: str) -> bool:
        if self._peek(token):
            self.pos += len(token)
            return True
        return False

    def _fail(self, expected: str) -> NoReturn:
        raise ConfigError(
            f"{self.setting} {self.text!r} is not a valid matcher list: {expected} at position {self.pos}; "
            'example: severity=~"critical|page",team!="infra"'
        )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
