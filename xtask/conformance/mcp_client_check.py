#!/usr/bin/env python3
"""Drive a bk-mcp server with the official MCP Python SDK (PyPI `mcp`, pinned in
requirements.txt) and check what comes back. Run by `cargo xtask conformance`.

    mcp_client_check.py [opts] stdio [--env K=V ...] -- COMMAND [ARG ...]
    mcp_client_check.py [opts] http URL [-H 'Name: value' ...]

opts:
    --expect-user NAME  also call `current_user` and expect NAME in the result
                        (the caller points the server at a fake Buildkite API)
    --timeout SECS      overall limit (default 60)

The checks: the `initialize` handshake, `tools/list` (every page), `prompts/list`
and `resources/list`, a `list_skills` call (needs no API), and with
--expect-user a `current_user` call (one real API call).

Prints one JSON line per check on stdout, {"check": ..., "ok": ..., "detail": ...}.
Exit status: 0 if every check passed, 1 if one failed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
import httpx2  # mcp 2.x uses httpx2, not httpx
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client

# Tools the check relies on: one with no API behind it, one API call.
LOCAL_TOOL = "list_skills"
API_TOOL = "current_user"

failures = 0


def report(check: str, ok: bool, detail: str) -> None:
    global failures
    failures += not ok
    print(json.dumps({"check": check, "ok": ok, "detail": detail}, ensure_ascii=False), flush=True)


def dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def result_text(result: Any) -> str:
    """The text of a CallToolResult: its text blocks, else its structured content."""
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content, ensure_ascii=False)
    return ""


def short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def list_all(fetch: Any, field: str) -> list[Any]:
    """Every item of a paginated list request, following nextCursor."""
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        params = None if cursor is None else types.PaginatedRequestParams(cursor=cursor)
        page = await fetch(params=params)
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            return items
    raise RuntimeError(f"{field}: more than 100 pages")


async def exercise(session: ClientSession, opts: argparse.Namespace) -> None:
    init = await session.initialize()  # the classic handshake (offers 2025-11-25)
    caps = init.capabilities
    report(
        "initialize",
        caps.tools is not None,
        f"protocol {init.protocol_version}, server {init.server_info.name} {init.server_info.version}"
        + ("" if caps.tools is not None else ": no tools capability"),
    )

    tools = await list_all(session.list_tools, "tools")
    names = {tool.name for tool in tools}
    problems = [
        tool.name
        for tool in tools
        if not tool.description or (tool.input_schema or {}).get("type") != "object"
    ]
    missing = sorted({LOCAL_TOOL, API_TOOL} - names)
    report(
        "tools/list",
        bool(tools) and not problems and not missing,
        f"{len(tools)} tools"
        + (f"; without description or object inputSchema: {problems}" if problems else "")
        + (f"; missing: {missing}" if missing else ""),
    )

    if caps.prompts is not None:
        prompts = await list_all(session.list_prompts, "prompts")
        report("prompts/list", all(p.description for p in prompts), f"{[p.name for p in prompts]}")
    if caps.resources is not None:
        resources = await list_all(session.list_resources, "resources")
        report("resources/list", all(r.uri and r.name for r in resources), f"{[str(r.uri) for r in resources]}")

    result = await session.call_tool(LOCAL_TOOL, {})
    text = result_text(result)
    report(
        f"tools/call {LOCAL_TOOL}",
        not result.is_error and bool(text.strip()),
        ("isError: " if result.is_error else f"{len(text)} chars: ") + short(text),
    )

    if opts.expect_user is not None:
        result = await session.call_tool(API_TOOL, {})
        text = result_text(result)
        ok = not result.is_error and opts.expect_user in text
        report(
            f"tools/call {API_TOOL}",
            ok,
            (f"returned {opts.expect_user!r}" if ok else f"expected {opts.expect_user!r}, got: ")
            + ("" if ok else ("isError: " if result.is_error else "") + short(text)),
        )


async def run(opts: argparse.Namespace) -> None:
    with anyio.fail_after(opts.timeout):
        if opts.transport == "stdio":
            params = StdioServerParameters(command=opts.command[0], args=opts.command[1:], env=opts.env)
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await exercise(session, opts)
        else:
            # mcp 2.x: headers go on the httpx2 client passed in; we own and close it.
            # terminate_on_close=False: a stateless server has no session to DELETE.
            async with httpx2.AsyncClient(headers=opts.headers, timeout=httpx2.Timeout(30.0)) as http:
                async with streamable_http_client(opts.url, http_client=http, terminate_on_close=False) as (
                    read,
                    write,
                ):
                    async with ClientSession(read, write) as session:
                        await exercise(session, opts)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--expect-user")
    p.add_argument("--timeout", type=float, default=60.0)
    sub = p.add_subparsers(dest="transport", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("--env", action="append", default=[])
    s.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("http")
    h.add_argument("url")
    h.add_argument("-H", "--header", action="append", default=[])
    opts = p.parse_args(argv)
    if opts.transport == "stdio":
        if opts.command[:1] == ["--"]:
            opts.command = opts.command[1:]
        if not opts.command:
            p.error("stdio needs a server command after --")
        env = {}
        for kv in opts.env:
            key, sep, value = kv.partition("=")
            if not sep:
                p.error(f"bad --env {kv!r}, want K=V")
            env[key] = value
        opts.env = env
    else:
        opts.headers = {}
        for header in opts.header:
            name, sep, value = header.partition(":")
            if not sep:
                p.error(f"bad header {header!r}, want 'Name: value'")
            opts.headers[name.strip()] = value.strip()
    return opts


def leaves(error: BaseException) -> list[BaseException]:
    """anyio wraps task errors in (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for sub in error.exceptions for leaf in leaves(sub)]
    return [error]


def main() -> int:
    opts = parse(sys.argv[1:])
    try:
        anyio.run(run, opts)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - every failure becomes a check line
        detail = "; ".join(f"{type(e).__name__}: {e}" for e in leaves(error))
        if isinstance(error, TimeoutError):
            detail = f"timed out after {opts.timeout:g}s"
        report("session", False, detail)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
