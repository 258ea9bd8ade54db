"""What a route promises, next to the route: `ApiRoute(path, endpoint, Operation(...))`.

An `Operation` names the query model (a pydantic model: the parameters are its fields, under their
aliases), the response models per status, the auth scheme and the tags. `metricsync.web.openapi` builds
`/openapi.json` from the `ApiRoute`s of an app and nothing else, so registering an endpoint in the
document is the one line that builds its route (docs/api.md, "Adding an endpoint").

`parse_query` is the strict reading of a query string against the same model: unknown names and
single-valued names given twice are refused with 400 naming them, before any value is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute, Route

from schemas.api import ErrorBody

M = TypeVar("M", bound=BaseModel)


class BadQueryError(ValueError):
    """A request the API refuses: `{"error": code, "detail": detail}` with `status` (400 unless said)."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    """One documented response: the model of its JSON body (None: no JSON body) and when it happens."""

    description: str
    model: type[BaseModel] | None = ErrorBody
    csv: bool = False  # also served as text/csv (format=csv or Accept: text/csv)
    media: str | None = None  # a body that is not JSON (model=None): its media type, e.g. text/event-stream
    headers: Mapping[str, str] = field(default_factory=dict)  # response header name -> description


@dataclass(frozen=True, slots=True)
class Header:
    """A request header an operation reads (webhooks: the sender's event and delivery headers)."""

    name: str
    description: str
    required: bool = False
    example: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """The OpenAPI operation of one route: `ApiRoute(path, endpoint, Operation(...))` documents it."""

    summary: str
    responses: Mapping[int, Answer]
    description: str = ""
    query: type[BaseModel] | None = None
    headers: Sequence[Header] = ()
    security: Sequence[str] = ()  # names of components.securitySchemes, any one of them suffices
    request_body: str | None = None  # description of a JSON object body (webhooks), None: no body
    # the models the application/json body is one of (the push API); none: any JSON object (a sender's
    # own payload, stored verbatim)
    request_models: Sequence[type[BaseModel]] = ()
    request_examples: Mapping[str, Any] = field(default_factory=dict)  # of the application/json body
    # further media types the body may have, each with the JSON schema of its body (a batch: an array)
    request_media: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tags: Sequence[str] = ()
    operation_id: str | None = None


class ApiRoute(Route):
    """A Starlette route that carries its `Operation` (GET unless `methods` says otherwise)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        operation: Operation,
        methods: Sequence[str] = ("GET",),
        name: str | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=list(methods), name=name)
        self.operation = operation


def documented(routes: Iterable[BaseRoute], operations: Mapping[str, Operation]) -> list[BaseRoute]:
    """Routes built elsewhere (ingest's, which imports nothing of the runtime), each with the operation its
    path maps to; routes of unmapped paths are returned as they are (undocumented)."""
    out: list[BaseRoute] = []
    for route in routes:
        if isinstance(route, Route) and not isinstance(route, ApiRoute) and route.path in operations:
            methods = sorted((route.methods or {"GET"}) - {"HEAD"})
            out.append(ApiRoute(route.path, route.endpoint, operations[route.path], methods, route.name))
        else:
            out.append(route)
    return out


# --- strict queries -------------------------------------------------------------------------------


def parameter_names(model: type[BaseModel]) -> dict[str, bool]:
    """The query names a model takes (aliases), each with whether it may be repeated (list fields)."""
    names: dict[str, bool] = {}
    for name, info in model.model_fields.items():
        origin = getattr(info.annotation, "__origin__", None)
        names[info.alias or name] = origin is list
    return names


def check_names(params: QueryParams, allowed: Mapping[str, bool]) -> None:
    """400 for names the endpoint does not take, then for single-valued names given more than once."""
    keys = [key for key, _ in params.multi_items()]
    unknown = sorted({key for key in keys if key not in allowed})
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        listed = ", ".join(repr(name) for name in unknown)
        raise BadQueryError(
            "unknown_parameter",
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {listed}; this endpoint takes {takes}",
        )
    repeated = sorted({key for key in keys if keys.count(key) > 1 and not allowed[key]})
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise BadQueryError("repeated_parameter", f"query parameter {listed} given more than once; give it once")


def parse_query(params: QueryParams, model: type[M]) -> M:
    """The query string as `model`, strictly: unknown or repeated names and invalid values are a 400 naming
    the parameter (`bad_<name>` for an invalid value). An empty value is a value (`service=` is no service,
    `limit=` is not a number)."""
    allowed = parameter_names(model)
    check_names(params, allowed)
    values: dict[str, Any] = {}
    for key, repeatable in allowed.items():
        given = params.getlist(key)
        if given:
            values[key] = given if repeatable else given[0]
    try:
        return model.model_validate(values)
    except ValidationError as e:
        error = e.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "query"
        code = f"bad_{name}" if name in allowed else "bad_parameter"  # e.g. bad_interval, bad_limit
        raise BadQueryError(code, f"query parameter '{name}'={values.get(name)!r}: {error['msg']}") from None
