"""Who may post: GitHub's HMAC signature and the bearer/basic/query token of Jenkins and Alertmanager.

A verifier checks a request in two steps: `check_headers` before the body is read (cheap refusals,
and the whole check for token auth) and `check_body` over the raw bytes (GitHub's HMAC). Both take
the request headers as a plain mapping (lower-cased names, the first value of a repeated header)
and the raw query string, not a framework request object: the webhook path is plain ASGI.
Comparisons are constant-time. No message names a secret, a token or the query string.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import SecretStr
from starlette.datastructures import QueryParams

from ingest.config import IngestConfig
from ingest.errors import Unauthorized

GITHUB_SECRET_VAR = "METRICSYNC_GITHUB_SECRET"
GITHUB_ALLOW_SHA1_VAR = "METRICSYNC_GITHUB_ALLOW_SHA1"
JENKINS_TOKEN_VAR = "METRICSYNC_JENKINS_TOKEN"
ALERTMANAGER_TOKEN_VAR = "METRICSYNC_ALERTMANAGER_TOKEN"
ALLOW_UNSIGNED_VAR = "METRICSYNC_ALLOW_UNSIGNED"

SIGNATURE_256 = "x-hub-signature-256"
SIGNATURE_SHA1 = "x-hub-signature"


class Verifier(Protocol):
    @property
    def mode(self) -> str:
        """What the health endpoints report: "hmac-sha256", "token", "off", "unconfigured"..."""
        ...

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        """Raise Unauthorized from what the headers (and query) alone show."""
        ...

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise Unauthorized unless the raw body is authentic."""
        ...


class Unverified:
    """No secret configured and METRICSYNC_ALLOW_UNSIGNED=true: every request passes."""

    mode = "off"

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        return None

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        return None


class Unconfigured:
    """No secret configured: every request is refused with the variable to set."""

    mode = "unconfigured"

    def __init__(self, sender: str, variable: str) -> None:
        self._detail = (
            f"{sender} webhooks are refused because {variable} is not set; set it (and configure the same "
            f"value in {sender}), or set {ALLOW_UNSIGNED_VAR}=true to accept unverified requests."
        )

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        raise Unauthorized("not_configured", self._detail)

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        raise Unauthorized("not_configured", self._detail)


class GitHubSignature:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`; with `allow_sha1`, a request
    carrying only the legacy `X-Hub-Signature: sha1=<hex>` is verified with HMAC-SHA1 instead.
    When both headers are present only the SHA-256 one counts."""

    def __init__(self, secret: SecretStr, *, allow_sha1: bool) -> None:
        self._key = secret.get_secret_value().encode("utf-8")
        self._allow_sha1 = allow_sha1
        self.mode = "hmac-sha256+sha1" if allow_sha1 else "hmac-sha256"

    def _signature(self, headers: Mapping[str, str]) -> tuple[str, str, str]:
        """(header name, algorithm, header value) of the signature to verify, or Unauthorized."""
        value = headers.get(SIGNATURE_256)
        if value is not None:
            return "X-Hub-Signature-256", "sha256", value
        value = headers.get(SIGNATURE_SHA1)
        if value is None:
            raise Unauthorized(
                "missing_signature",
                "X-Hub-Signature-256 is missing; set the webhook's secret in GitHub to the value of "
                f"{GITHUB_SECRET_VAR}.",
            )
        if not self._allow_sha1:
            raise Unauthorized(
                "sha1_signature_refused",
                "Only the legacy X-Hub-Signature (HMAC-SHA1) was sent and SHA-1 signatures are refused; "
                f"use a GitHub version that sends X-Hub-Signature-256, or set {GITHUB_ALLOW_SHA1_VAR}=true.",
            )
        return "X-Hub-Signature", "sha1", value

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        self._signature(headers)

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        name, algorithm, value = self._signature(headers)
        expected = f"{algorithm}={hmac.digest(self._key, body, algorithm).hex()}"
        if not value.startswith(f"{algorithm}="):
            raise Unauthorized(
                "malformed_signature",
                f"{name} must be '{algorithm}=' followed by the hex HMAC of the body; send GitHub's header unchanged.",
            )
        # Header values arrive latin-1 decoded: re-encoding cannot fail, whatever bytes were sent.
        if not hmac.compare_digest(expected.encode("ascii"), value.lower().encode("latin-1")):
            raise Unauthorized(
                "bad_signature",
                f"{name} does not match the body; make the webhook's secret in GitHub equal to "
                f"{GITHUB_SECRET_VAR} and do not alter the body in transit.",
            )


def _digest(candidate: bytes) -> bytes:
    return hashlib.sha256(candidate).digest()


class TokenAuth:
    """A shared token, sent as `Authorization: Bearer <token>`, as the password of HTTP basic auth
    (any user name), or, when `allow_query`, as the `token` query parameter. The request passes when
    any credential it presents matches (a proxy may own the Authorization header while the token
    travels in the query)."""

    mode = "token"

    def __init__(self, token: SecretStr, *, sender: str, variable: str, allow_query: bool) -> None:
        self._digest = _digest(token.get_secret_value().encode("utf-8"))
        self._sender = sender
        self._variable = variable
        self._allow_query = allow_query

    def _matches(self, candidate: bytes) -> bool:
        # Compare digests: equal length whatever was sent, so the token's length does not leak either.
        return hmac.compare_digest(_digest(candidate), self._digest)

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        presented: list[str] = []
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, credentials = authorization.strip().partition(" ")
            scheme = scheme.lower()
            credentials = credentials.strip()
            if scheme == "bearer":
                if self._matches(credentials.encode("latin-1")):
                    return
                presented.append("bearer token")
            elif scheme == "basic":
                password = _basic_password(credentials)
                if password is not None and self._matches(password):
                    return
                presented.append("basic auth password" if password is not None else "malformed basic auth header")
            else:
                presented.append("Authorization header (unsupported scheme; use Bearer or Basic)")
        if self._allow_query and query_string:
            token = QueryParams(query_string).get("token")
            if token is not None:
                if self._matches(token.encode("utf-8")):
                    return
                presented.append("token query parameter")
        if presented:
            raise Unauthorized(
                "bad_token",
                f"The {' and the '.join(presented)} did not match; send the value of {self._variable}.",
            )
        ways = f"Authorization: Bearer <{self._variable}> or HTTP basic auth with it as the password"
        if self._allow_query:
            ways += ", or a token query parameter"
        raise Unauthorized("missing_token", f"The {self._sender} request carries no token; send {ways}.")

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        return None


def _basic_password(credentials: str) -> bytes | None:
    """The password part of basic credentials, or None when they are not base64 'user:password'."""
    try:
        decoded = base64.b64decode(credentials.encode("latin-1"), validate=True)
    except (binascii.Error, ValueError):
        return None
    _user, colon, password = decoded.partition(b":")
    return password if colon else None


def github_verifier(config: IngestConfig) -> Verifier:
    if config.github_secret is not None:
        return GitHubSignature(config.github_secret, allow_sha1=config.github_allow_sha1)
    return Unverified() if config.allow_unsigned else Unconfigured("GitHub", GITHUB_SECRET_VAR)


def jenkins_verifier(config: IngestConfig) -> Verifier:
    if config.jenkins_token is not None:
        return TokenAuth(config.jenkins_token, sender="Jenkins", variable=JENKINS_TOKEN_VAR, allow_query=True)
    return Unverified() if config.allow_unsigned else Unconfigured("Jenkins", JENKINS_TOKEN_VAR)


def alertmanager_verifier(config: IngestConfig) -> Verifier:
    if config.alertmanager_token is not None:
        return TokenAuth(
            config.alertmanager_token,
            sender="Alertmanager",
            variable=ALERTMANAGER_TOKEN_VAR,
            allow_query=False,
        )
    return Unverified() if config.allow_unsigned else Unconfigured("Alertmanager", ALERTMANAGER_TOKEN_VAR)


class HeaderToken:
    """A shared token sent verbatim in a named header (GitLab's `X-Gitlab-Token`), compared in
    constant time (as digests: the token's length does not leak either)."""

    mode = "token"

    def __init__(self, token: SecretStr, *, header: str, sender: str, variable: str) -> None:
        self._digest = _digest(token.get_secret_value().encode("utf-8"))
        self._header = header
        self._sender = sender
        self._variable = variable

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        value = headers.get(self._header.lower())
        if value is None:
            raise Unauthorized(
                "missing_token",
                f"The {self._sender} request carries no {self._header} header; set the webhook's secret token "
                f"in {self._sender} to the value of {self._variable}.",
            )
        if not hmac.compare_digest(_digest(value.encode("latin-1")), self._digest):
            raise Unauthorized(
                "bad_token",
                f"The {self._header} header did not match; make the webhook's secret token in {self._sender} "
                f"equal to {self._variable}.",
            )

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        return None


class HmacSignatures:
    """PagerDuty's `X-PagerDuty-Signature: v1=<hex HMAC-SHA256(secret, raw body)>[,v1=<hex>...]`:
    several signatures while a secret is being rotated; the request passes when any `v1` one
    matches. Unknown versions are skipped (a later scheme must not lock us out of v1)."""

    mode = "hmac-sha256"

    def __init__(self, secret: SecretStr, *, header: str, sender: str, variable: str) -> None:
        self._key = secret.get_secret_value().encode("utf-8")
        self._header = header
        self._sender = sender
        self._variable = variable

    def _value(self, headers: Mapping[str, str]) -> str:
        value = headers.get(self._header.lower())
        if value is None or not value.strip():
            raise Unauthorized(
                "missing_signature",
                f"{self._header} is missing; set the webhook subscription's signing secret in {self._variable}.",
            )
        return value

    def check_headers(self, headers: Mapping[str, str], query_string: bytes) -> None:
        self._value(headers)

    def check_body(self, headers: Mapping[str, str], body: bytes) -> None:
        value = self._value(headers)
        expected = hmac.digest(self._key, body, "sha256").hex().encode("ascii")
        versions = 0
        for part in value.split(","):
            version, _, signature = part.strip().partition("=")
            if version != "v1":
                continue
            versions += 1
            if hmac.compare_digest(expected, signature.strip().lower().encode("latin-1")):
                return
        if versions == 0:
            raise Unauthorized(
                "malformed_signature",
                f"{self._header} holds no 'v1=<hex>' signature; send {self._sender}'s header unchanged.",
            )
        raise Unauthorized(
            "bad_signature",
            f"No signature in {self._header} matches the body; make {self._variable} equal to the "
            f"subscription's signing secret and do not alter the body in transit.",
        )


def secret_verifier(
    secret: SecretStr | None,
    *,
    allow_unsigned: bool,
    sender: str,
    variable: str,
    make: Callable[[SecretStr], Verifier],
) -> Verifier:
    """The verifier of a source with one secret: `make(secret)` when it is set (and not blank), else
    `Unverified` with `allow_unsigned`, else `Unconfigured` (every request refused, naming `variable`)."""
    if secret is not None and secret.get_secret_value().strip():
        return make(secret)
    return Unverified() if allow_unsigned else Unconfigured(sender, variable)


def bearer_or_basic(token: SecretStr, *, sender: str, variable: str) -> Verifier:
    """`TokenAuth` without the query parameter: `Authorization: Bearer <token>` or basic auth."""
    return TokenAuth(token, sender=sender, variable=variable, allow_query=False)
