"""Request bodies: content-type check, bounded reading, one JSON parse.

The size limit is enforced twice: up front on `Content-Length` (nothing is read), and while
streaming, for chunked bodies without a length (reading stops at the limit).
"""

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from ingest.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

_EXPECTED = "send the body as JSON with Content-Type: application/json"
_MAX_ECHO = 80  # longest sender-supplied value quoted back in an error message


def _quote(value: str) -> str:
    return repr(value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "...")


def is_json_media_type(content_type: str) -> bool:
    """`application/json` (any parameters, e.g. charset) or a structured-syntax `application/*+json`."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def check_content_type(content_type: str | None, hints: Mapping[str, str]) -> None:
    """415 unless JSON. `hints` maps a media type a sender may be misconfigured to send (GitHub's
    form encoding, the Notification Plugin's XML) to a detail telling how to fix that sender."""
    if content_type is None or not content_type.strip():
        raise UnsupportedMediaType("missing_content_type", f"The request has no Content-Type header; {_EXPECTED}.")
    if is_json_media_type(content_type):
        return
    media_type = content_type.partition(";")[0].strip().lower()
    hint = hints.get(media_type)
    detail = hint or f"Content-Type {_quote(media_type)} is not supported; {_EXPECTED}."
    raise UnsupportedMediaType("unsupported_content_type", detail)


def check_content_length(content_length: str | None, limit: int) -> None:
    """413 before reading anything when the declared length exceeds the limit."""
    if content_length is None:
        return
    value = content_length.strip()
    if not (value.isascii() and value.isdigit()):
        raise BadRequest("bad_content_length", "Content-Length is not a non-negative integer; send a valid length.")
    if int(value) > limit:
        raise PayloadTooLarge("body_too_large", _too_large(limit))


def _too_large(limit: int) -> str:
    return (
        f"The body is larger than the limit of {limit} bytes; send a smaller payload "
        "(or raise METRICSYNC_MAX_BODY_BYTES)."
    )


async def read_body(receive: Receive, limit: int) -> bytes:
    """The raw body, read chunk by chunk from the ASGI `receive`; 413 as soon as more than `limit`
    bytes arrived, ClientDisconnect when the client goes away first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk: bytes = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge("body_too_large", _too_large(limit))
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
    if len(chunks) == 1:
        return chunks[0]  # the usual case: no copy
    return b"".join(chunks)


_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse once with orjson; the body must be a UTF-8 JSON object."""
    if not body:
        raise BadRequest("empty_body", "The request body is empty; send the webhook's JSON object.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as ue:
            raise BadRequest(
                "not_utf8",
                f"The body is not valid UTF-8 (bad byte at offset {ue.start}); send JSON encoded as UTF-8.",
            ) from e
        raise BadRequest("malformed_json", f"The body is not valid JSON ({e}); send one complete JSON object.") from e
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_KINDS.get(type(value), "not an object")
        raise BadRequest("not_an_object", f"The body is {kind}, not a JSON object; send the webhook's JSON object.")
    return value
