"""Reading a delivery's JSON body with typed accessors.

Every accessor names the field path (`commits[2].timestamp`) and the delivery in the
`UnmappableDelivery` it raises, so a dead letter says exactly what was wrong. `null` counts as
absent. Optional accessors return None for absent fields but still raise on a wrong type: a field
of the wrong type means the sender is not what we think it is.
"""

from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import parse_qs

import orjson

from normalizer.errors import UnmappableDelivery
from normalizer.timeparse import from_epoch_ms, from_epoch_ns, parse_gitlab_time, parse_time, parse_time_or_zero
from schemas.raw import RawDelivery

_FORM = "application/x-www-form-urlencoded"

Parsed = dict[str, Any] | None  # a delivery's JSON body as already parsed, if it was


def load_object(delivery: RawDelivery, parsed: Parsed = None) -> "Fields":
    """The body as a JSON object. A GitHub hook set to form encoding sends `payload=<url-encoded JSON>`.
    `parsed` is `orjson.loads(delivery.body)` when the caller has it already (ingest parses every
    body it accepts), so the body is not parsed twice."""
    body = delivery.body
    is_form = delivery.headers.get("content-type", "").lower().startswith(_FORM)
    if parsed is not None and not is_form:
        return Fields(parsed, "", delivery)
    if is_form:
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        except (UnicodeDecodeError, ValueError) as e:
            fail_delivery(delivery, None, f"form-encoded body does not parse: {e}")
        payload = form.get("payload")
        if not payload:
            fail_delivery(delivery, "payload", "form-encoded body has no 'payload' field")
        body = payload[0].encode("utf-8")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        fail_delivery(delivery, None, f"body is not JSON: {e}")
    if not isinstance(data, dict):
        fail_delivery(delivery, None, f"body is a JSON {_json_type(data)}, expected an object")
    return Fields(data, "", delivery)


class Fields:
    """One JSON object of a delivery's body, at `path`."""

    __slots__ = ("_data", "_delivery", "_path")

    def __init__(self, data: dict[str, Any], path: str, delivery: RawDelivery) -> None:
        self._data = data
        self._path = path
        self._delivery = delivery

    @property
    def path(self) -> str:
        return self._path

    @property
    def data(self) -> dict[str, Any]:
        return self._data

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self._data.get(key)

    def fail(self, key: str | None, reason: str) -> NoReturn:
        fail_delivery(self._delivery, self._field(key) if key else (self._path or None), reason)

    # --- scalars -----------------------------------------------------------------------------------

    def req_str(self, key: str) -> str:
        value = self.opt_str(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.fail(key, f"is a JSON {_json_type(value)}, expected a string")

    def req_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def opt_int(self, key: str) -> int | None:
        """An integer; a string of ASCII digits counts too (ingest accepts build numbers so)."""
        value = self._data.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        self.fail(key, f"is a JSON {_json_type(value)}, expected an integer")

    def req_id(self, key: str) -> str:
        """An identifier written as a number or a string, as text."""
        value = self._data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        self.fail(key, "is missing" if value is None else f"is a JSON {_json_type(value)}, expected an id")

    def opt_bool(self, key: str) -> bool | None:
        value = self._data.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.fail(key, f"is a JSON {_json_type(value)}, expected true or false")

    # --- times -------------------------------------------------------------------------------------

    def req_time(self, key: str) -> datetime:
        value = self.opt_time(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def opt_time(self, key: str) -> datetime | None:
        """An RFC 3339 timestamp in UTC; Go's zero time (`0001-01-01T00:00:00Z`) counts as absent."""
        text = self.opt_str(key)
        if text is None:
            return None
        try:
            return parse_time_or_zero(text)
        except ValueError as e:
            self.fail(key, str(e))

    def req_time_strict(self, key: str) -> datetime:
        """An RFC 3339 timestamp in UTC, where Go's zero time is an error."""
        text = self.req_str(key)
        try:
            return parse_time(text)
        except ValueError as e:
            self.fail(key, str(e))

    def opt_gitlab_time(self, key: str) -> datetime | None:
        """RFC 3339 or GitLab's `2017-12-10 17:08:07 UTC` form, in UTC."""
        text = self.opt_str(key)
        if text is None:
            return None
        try:
            return parse_gitlab_time(text)
        except ValueError as e:
            self.fail(key, str(e))

    def req_gitlab_time(self, key: str) -> datetime:
        value = self.opt_gitlab_time(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def req_epoch_ms(self, key: str) -> datetime:
        value = self.opt_epoch_ms(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def opt_epoch_ns(self, key: str) -> datetime | None:
        """Epoch nanoseconds in UTC (Opsgenie's `updatedAt`: 19 digits, read as an integer)."""
        nanos = self.opt_int(key)
        if nanos is None:
            return None
        try:
            return from_epoch_ns(nanos)
        except ValueError as e:
            self.fail(key, str(e))

    def str_list(self, key: str) -> list[str]:
        """An optional array of strings (tags); absent is []."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"is a JSON {_json_type(value)}, expected an array")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                fail_delivery(
                    self._delivery, f"{self._field(key)}[{index}]", f"is a JSON {_json_type(item)}, expected a string"
                )
        return list(value)

    def opt_epoch_ms(self, key: str) -> datetime | None:
        """Epoch milliseconds in UTC; 0 (Jenkins' "unknown") counts as absent."""
        millis = self.opt_int(key)
        if millis is None:
            return None
        try:
            return from_epoch_ms(millis)
        except ValueError as e:
            self.fail(key, str(e))

    # --- containers --------------------------------------------------------------------------------

    def req_obj(self, key: str) -> "Fields":
        value = self.opt_obj(key)
        if value is None:
            self.fail(key, "is missing")
        return value

    def opt_obj(self, key: str) -> "Fields | None":
        value = self._data.get(key)
        if value is None:
            return None
        if isinstance(value, dict):
            return Fields(value, self._field(key), self._delivery)
        self.fail(key, f"is a JSON {_json_type(value)}, expected an object")

    def obj_list(self, key: str, *, required: bool = True) -> list["Fields"]:
        """An array of objects; an absent optional one is []."""
        value = self._data.get(key)
        if value is None:
            if not required:
                return []
            self.fail(key, "is missing")
        if not isinstance(value, list):
            self.fail(key, f"is a JSON {_json_type(value)}, expected an array")
        items: list[Fields] = []
        for index, item in enumerate(value):
            path = f"{self._field(key)}[{index}]"
            if not isinstance(item, dict):
                fail_delivery(self._delivery, path, f"is a JSON {_json_type(item)}, expected an object")
            items.append(Fields(item, path, self._delivery))
        return items

    def str_map(self, key: str) -> dict[str, str]:
        """An optional object of string values (labels, annotations, build parameters); absent is {}."""
        value = self._data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"is a JSON {_json_type(value)}, expected an object")
        for name, item in value.items():
            if not isinstance(item, str):
                fail_delivery(
                    self._delivery,
                    f"{self._field(key)}.{name}",
                    f"is a JSON {_json_type(item)}, expected a string",
                )
        return dict(value)

    def _field(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key


def fail_delivery(delivery: RawDelivery, field: str | None, reason: str) -> NoReturn:
    raise UnmappableDelivery(
        source=str(delivery.source),
        delivery_id=delivery.delivery_id,
        event_type=delivery.event_type,
        field=field,
        reason=reason,
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
