"""Deterministic identifiers: the same input always gives the same id.

Event ids and delivery ids for senders without a delivery id (Jenkins, Alertmanager) are
derived here, so a redelivered webhook maps to the ids it had the first time.
"""

import hashlib

_SEP = "\x1f"  # unit separator: cannot appear in the ids we hash


def stable_id(*parts: str | int | None) -> str:
    """A 32-hex-digit id (128 bits of SHA-256) of the ordered parts; None and "" differ."""
    text = _SEP.join("\x00" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def body_digest(body: bytes) -> str:
    """Full SHA-256 hex of a request body (the identity of an Alertmanager notification)."""
    return hashlib.sha256(body).hexdigest()
