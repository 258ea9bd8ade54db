"""The request headers kept with a delivery: everything the sender sent except credentials.

Dropped: any header whose name mentions auth, cookie, token, secret, signature, password, api key,
credential or session (so `Authorization`, `Cookie`, `X-Hub-Signature(-256)`, `X-Auth-Token`...).
Signatures are useless once verified, and the raw log must never hold a secret.
"""

from collections.abc import Iterable
from functools import lru_cache

_SECRET_MARKERS = (
    b"auth",
    b"cookie",
    b"token",
    b"secret",
    b"signature",
    b"password",
    b"passwd",
    b"api-key",
    b"apikey",
    b"credential",
    b"session",
)


@lru_cache(maxsize=1024)
def _kept_name(raw_name: bytes) -> str | None:
    name = raw_name.lower()
    if any(marker in name for marker in _SECRET_MARKERS):
        return None
    return name.decode("latin-1")


def stored_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased names; a header sent several times is joined with ", " (RFC 9110 field lines)."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = _kept_name(raw_name)
        if name is None:
            continue
        value = raw_value.decode("latin-1")
        previous = kept.get(name)
        kept[name] = value if previous is None else f"{previous}, {value}"
    return kept
