"""The dead-letter routes of the read API, the same in both modes over the `DeadLetters` port
(schemas.ports; embedded: SqliteStore, distributed: MongoStore): `GET /api/v1/dead-letters` (filters
source, since, until, error, state; cursor paging in (`at`, id) order; `body=true`; CSV) and
`GET /api/v1/dead-letters/{id}` (one letter with its body). Token-protected like the rest (`guard`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from metricsync.web.contract import Answer, ApiRoute, BadQueryError, Operation, parse_query
from metricsync.web.csv_export import DEAD_LETTER_BODY, DEAD_LETTER_COLUMNS, csv_response, wants_csv
from metricsync.web.paging import Key, decode_cursor, keyset_page, next_link
from metricsync.web.queries import DeadLetterOneParams, DeadLetterParams
from metricsync.web.read_api import API_AUTH, NEXT_LINK, parse_time
from schemas.api import DeadLetter, DeadLettersPage
from schemas.ports import DeadLetterFilter, DeadLetters

Handler = Callable[[Request], Awaitable[Response]]
CURSOR_SHAPE: Key = ("", "")  # (`at`, id): what a dead-letter cursor holds


def letter_key(letter: DeadLetter) -> Key:
    """A letter's place in the list: (`at` as the stores write it, id)."""
    return (letter.at or "", letter.id)


def selection(params: DeadLetterParams) -> DeadLetterFilter:
    since = parse_time("since", params.since) if params.since is not None else None
    until = parse_time("until", params.until) if params.until is not None else None
    return DeadLetterFilter(params.source, since, until, params.error, params.state)


def routes(store: DeadLetters, guard: Callable[[Handler], Handler]) -> list[BaseRoute]:
    """The two routes over `store`, each behind `guard` (the read API's token check)."""

    async def listing(request: Request) -> Response:
        params = parse_query(request.query_params, DeadLetterParams)
        chosen = selection(params)
        after: tuple[str, str] | None = None
        if params.cursor is not None:
            at, letter_id = decode_cursor(params.cursor, CURSOR_SHAPE)
            after = (str(at), str(letter_id))
        fetched = await store.list_dead_letters(chosen, after, params.limit + 1, params.body)
        page = keyset_page(fetched, letter_key, params.limit)
        link = next_link(request, page.cursor)
        headers = {"Link": f'<{link}>; rel="next"'} if link else None
        if wants_csv(request, params.format):
            columns = [*DEAD_LETTER_COLUMNS, DEAD_LETTER_BODY] if params.body else DEAD_LETTER_COLUMNS
            return csv_response(columns, page.items, headers)
        exclude = None if params.body else {"body_b64"}
        body = {
            "dead_letters": [letter.model_dump(mode="json", exclude=exclude) for letter in page.items],
            "total": await store.count_dead_letters(chosen),
            "limit": params.limit,
            "next": link,
        }
        return JSONResponse(body, headers=headers)

    async def one(request: Request) -> Response:
        parse_query(request.query_params, DeadLetterOneParams)
        letter_id = request.path_params["letter_id"]
        letter = await store.get_dead_letter(letter_id)
        if letter is None:
            raise BadQueryError("not_found", f"no dead letter with id '{letter_id}'", 404)
        return JSONResponse(letter.model_dump(mode="json"))

    return [
        ApiRoute("/api/v1/dead-letters", guard(listing), LIST),
        ApiRoute("/api/v1/dead-letters/{letter_id:path}", guard(one), ONE),
    ]


# --- the contract of the routes (metricsync.web.contract; docs/api.md) ---------------------------------

_BOTH = (
    "Both modes serve it: embedded from its SQLite store (no Kafka position: `topic`, `partition` and "
    "`offset` are null), distributed from MongoDB."
)
LIST = Operation(
    "The dead letters: deliveries no event could be derived from, oldest first",
    {
        200: Answer(
            "a page in (`at`, id) order; `next` (and the `Link` header) is the next page's URL",
            DeadLettersPage,
            csv=True,
            headers=NEXT_LINK,
        ),
        400: Answer("a query parameter is unknown, repeated or invalid (`error` names the problem)"),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
    },
    description=_BOTH
    + " Replay them with `metricsync replay-dead-letters` (docs/operations.md). CSV columns: "
    + ", ".join(name for name, _ in DEAD_LETTER_COLUMNS)
    + " (and body_b64 with `body=true`).",
    query=DeadLetterParams,
    security=API_AUTH,
    tags=("operations",),
    operation_id="get_api_v1_dead_letters",
)
ONE = Operation(
    "One dead letter, with its body (base64)",
    {
        200: Answer("the dead letter", DeadLetter),
        400: Answer("a query parameter was given (this endpoint takes none)"),
        401: Answer("METRICSYNC_API_TOKEN is set and the request does not carry it"),
        404: Answer("no dead letter has this id"),
    },
    description=_BOTH,
    query=DeadLetterOneParams,
    security=API_AUTH,
    tags=("operations",),
    operation_id="get_api_v1_dead_letter",
)
