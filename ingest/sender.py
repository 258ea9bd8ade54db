"""`Sender`: everything the ingest app needs to know about one source's endpoint.

The app loops over a list of senders; it names no source itself. A source's ingest module
(`ingest/gitlab.py`...) provides the parts: its verifier, how a verified request is identified
(delivery id, event type, ordering key), which misconfigured content types deserve a hint, and,
rarely, how the body is parsed (CDEvents batches are JSON arrays).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from ingest.auth import Verifier
from ingest.body import parse_object
from ingest.identity import Identity
from schemas.sources import Source

# The request headers as looked up by the checks: lower-cased names, a repeated header's first value.
HeaderMap = Mapping[str, str]
# Identity of a parsed, verified request; or a response that ends it without storing (GitHub ping).
Identify = Callable[[HeaderMap, Any, bytes], Identity | Response]
# The body parsed once: a JSON object for most sources (handed to the sink), or a list (CDEvents
# batches; the sink then gets None and maps from the stored bytes).
Parse = Callable[[HeaderMap, bytes], dict[str, Any] | list[Any]]


def parse_json_object(headers: HeaderMap, body: bytes) -> dict[str, Any]:
    return parse_object(body)


@dataclass(frozen=True, slots=True)
class Sender:
    source: Source
    path: str  # e.g. "/webhooks/gitlab"
    verifier: Verifier
    identify: Identify
    content_type_hints: Mapping[str, str] = field(default_factory=dict)
    delivery_header: str | None = None  # a sender-given delivery id worth logging on refusals
    parse: Parse = parse_json_object
    # the route's name (Starlette `url_path_for`); unique per path
    name: str = ""

    @property
    def route_name(self) -> str:
        return self.name or f"webhook_{self.source.value}"
