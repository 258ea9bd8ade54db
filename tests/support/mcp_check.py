"""Call every MCP tool with the SDK's own client and compare each answer with the read API's."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from mcp.client.client import Client

from metricsync.web.mcp import TOOL_NAMES

# (tool, its arguments beyond the scope, the read API path, the API's query beyond the scope)
CASES: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("dora_report", {}, "/api/v1/dora", {}),
    ("dora_series", {"interval": "week", "include_stages": True}, "/api/v1/dora/series",
     {"interval": "week", "include": "stages"}),
    ("deployments", {}, "/api/v1/deployments", {}),
    ("incidents", {}, "/api/v1/incidents", {}),
    ("lead_time", {"limit": 5}, "/api/v1/lead-time", {"limit": "5"}),
    ("insights", {}, "/api/v1/insights", {}),
]  # fmt: skip


async def check_tools(mcp: Client, base: str, window: dict[str, str], headers: dict[str, str] | None = None) -> int:
    """List the tools, call each for all services and for one, compare with the read API at `base`;
    the number of findings the insights tool returned (for all services)."""
    tools = await mcp.list_tools()
    assert sorted(t.name for t in tools.tools) == sorted(TOOL_NAMES)
    findings = 0
    async with httpx.AsyncClient(base_url=base, headers=headers or {}, timeout=30) as http:
        for scope in ({}, {"service": "acme/payments"}):
            for tool, extra, path, api_extra in CASES:
                result = await mcp.call_tool(tool, {**scope, "start": window["from"], "end": window["to"], **extra})
                assert not result.is_error, (tool, result.content)
                document = dict(result.structured_content or {})
                api_url = document.pop("api_url")
                want = (await http.get(path, params={**scope, **window, **api_extra})).json()
                if tool in ("deployments", "incidents"):  # the next page's cursor, as in the API's `next`
                    following = parse_qs(urlsplit(want["next"]).query)["cursor"][0] if want["next"] else None
                    assert document.pop("next_cursor") == following, tool
                assert document == want, tool
                assert (await http.get(api_url)).json() == want, api_url
                if tool == "insights" and not scope:
                    findings = len(document["findings"])
    refused = await mcp.call_tool("lead_time", {"service": "acme/nothing"})
    assert refused.is_error
    return findings
