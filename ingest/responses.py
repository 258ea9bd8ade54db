"""JSON responses, serialised with orjson."""

from collections.abc import Mapping

import orjson
from starlette.responses import Response

JSON = "application/json"


def json_response(
    status_code: int, content: Mapping[str, object], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, headers=headers, media_type=JSON)
