#!/usr/bin/env python3
"""Drive bk-mcp with the official MCP Python SDK (PyPI `mcp` 2.x, pinned in
requirements.txt) in both protocol eras and check what comes back. Run by
`cargo xtask conformance`; ts_client_check.mjs does the same with the
TypeScript SDK.

    mcp_client_check.py [opts] stdio [--env K=V ...] -- SERVER [ARG ...]
    mcp_client_check.py [opts] http --demo-url URL --api-url URL

Two servers per era. The demo: `SERVER --demo` over stdio, or the one at
--demo-url. The API server (the caller points it at a fake Buildkite API
with a running build): `SERVER` with the --env settings and
BUILDKITE_API_TOKEN=<token>, or the one at --api-url (started with
--passthrough-http-header Authorization) with `Authorization: Bearer <token>`,
where <token> is `<--token-prefix>_<era without dashes>`, so the fake API's
record tells the sessions apart.

opts:
    --era ERA            2025-11-25 (the initialize handshake) and/or
                         2026-07-28 (server/discover); default both, run
                         concurrently
    --token-prefix P     see above (default bkua_conformance)
    --expect-user NAME   current_user must name NAME
    --expect-job NAME    the failure summary of acme/web #1234 must name this
                         job (repeatable)
    --running-build O/P/N  the build wait_for_build waits for (running)
    --timeout SECS       overall limit (default 100)

Each era: the handshake; against the demo, tools/list (every page, each tool
described, with an object inputSchema), prompts/list, resources/list and
get_build_failure_summary on acme/web #1234; against the API server,
current_user, then wait_for_build on the running build: at 2026-07-28 as a
task (the tasks extension: the call answers a task, tasks/get says working,
tasks/cancel, tasks/get says cancelled), at 2025-11-25 the plain call,
bounded by the server's wait (45 s): it must say the build is still running.

Prints one JSON line per check on stdout, {"era": ..., "check": ..., "ok": ...,
"detail": ...}. Exit status: 0 if every check passed, 1 if one failed, 2 on
bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
import httpx2  # mcp 2.x uses httpx2, not httpx
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from pydantic import ConfigDict

LEGACY = "2025-11-25"
MODERN = "2026-07-28"
TASKS = "io.modelcontextprotocol/tasks"
SUMMARY_TOOL = "get_build_failure_summary"
SUMMARY_ARGS = {"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}
WAIT_TOOL = "wait_for_build"
USER_TOOL = "current_user"
# Longer than the server's 45 s bound on one wait_for_build call.
CALL_TIMEOUT = 90.0

failures = 0


def report(era: str, check: str, ok: bool, detail: str) -> None:
    global failures
    failures += not ok
    line = {"era": era, "check": check, "ok": ok, "detail": detail}
    print(json.dumps(line, ensure_ascii=False), flush=True)


def result_text(result: types.CallToolResult) -> str:
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


# ----------------------------------------------------------------- the tasks extension
#
# The SDK has no tasks runtime, but an extension can claim a result shape
# (here resultType "task") and finish it; its requests go out with Mcp-Name
# set to the task id (`name_param`), as SEP-2663 wants.


class CreatedTask(types.Result):
    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None


class TaskParams(types.RequestParams):
    task_id: str


class GetTask(types.Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"


class CancelTask(types.Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class TaskDetail(types.Result):
    model_config = ConfigDict(extra="allow")
    task_id: str
    status: str
    status_message: str | None = None


async def follow_task(task: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
    """Polls the task twice, cancels it (the build never finishes), and checks it says so.

    Returns the steps as a tool result: [[step, status, message], ...].
    """
    steps: list[list[Any]] = [["created", task.status, task.status_message]]
    params = TaskParams(task_id=task.task_id)
    for _ in range(2):
        detail = await ctx.session.send_request(GetTask(params=params), TaskDetail)
        steps.append(["tasks/get", detail.status, detail.status_message])
        await anyio.sleep(1)
    await ctx.session.send_request(CancelTask(params=params), types.EmptyResult)
    steps.append(["tasks/cancel", "ok", None])
    detail = await ctx.session.send_request(GetTask(params=params), TaskDetail)
    steps.append(["tasks/get", detail.status, detail.status_message])
    return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(steps))])


class Tasks(ClientExtension):
    identifier = TASKS

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=follow_task)]


# ----------------------------------------------------------------- the checks


async def connect(opts: argparse.Namespace, era: str, server: str, check: Callable[[Client], Awaitable[None]]) -> None:
    """Opens a session with `server` ("demo" or "api") at `era` and runs `check`."""
    token = f"{opts.token_prefix}_{era.replace('-', '')}"
    mode = "legacy" if era == LEGACY else "auto"  # auto: server/discover, checked below
    kwargs: dict[str, Any] = {
        "mode": mode,
        "read_timeout_seconds": CALL_TIMEOUT,
        "client_info": types.Implementation(name="bk-mcp-conformance-python", version="1"),
        "extensions": [Tasks()] if era == MODERN else None,
    }
    if opts.transport == "stdio":
        args = ["--demo"] if server == "demo" else []
        env = dict(opts.env)
        if server == "api":
            env["BUILDKITE_API_TOKEN"] = token
        params = StdioServerParameters(command=opts.command[0], args=[*opts.command[1:], *args], env=env)
        async with Client(stdio_client(params), **kwargs) as client:
            await check(client)
    else:
        url = opts.demo_url if server == "demo" else opts.api_url
        headers = {"Authorization": f"Bearer {token}"} if server == "api" else {}
        # The headers go on the httpx2 client passed in; we own and close it.
        # terminate_on_close=False: a stateless server has no session to DELETE.
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(CALL_TIMEOUT)) as http:
            transport = streamable_http_client(url, http_client=http, terminate_on_close=False)
            async with Client(transport, **kwargs) as client:
                await check(client)


def check_handshake(era: str, server: str, client: Client) -> None:
    version = client.protocol_version
    how = "initialize" if era == LEGACY else "server/discover"
    via_discover = client.session.discover_result is not None
    ok = version == era and via_discover == (era == MODERN)
    info = client.server_info
    who = f", server {info.name} {info.version}" if info else ""
    report(
        era,
        f"{how} ({server})",
        ok,
        f"{how} → {version}{who}" + ("" if ok else f"; wanted {era} via {how}"),
    )


async def demo_checks(opts: argparse.Namespace, era: str, client: Client) -> None:
    check_handshake(era, "demo", client)

    tools: list[types.Tool] = []
    cursor = None
    for _ in range(100):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    names = {tool.name for tool in tools}
    problems = [t.name for t in tools if not t.description or (t.input_schema or {}).get("type") != "object"]
    missing = sorted({SUMMARY_TOOL, WAIT_TOOL, USER_TOOL} - names)
    report(
        era,
        "tools/list",
        bool(tools) and not problems and not missing,
        f"{len(tools)} tools"
        + (f"; without description or object inputSchema: {problems}" if problems else "")
        + (f"; missing: {missing}" if missing else ""),
    )

    caps = client.server_capabilities
    if caps.prompts is not None:
        prompts = (await client.list_prompts()).prompts
        report(era, "prompts/list", bool(prompts) and all(p.description for p in prompts), f"{[p.name for p in prompts]}")
    if caps.resources is not None:
        resources = (await client.list_resources()).resources
        report(era, "resources/list", all(r.uri and r.name for r in resources), f"{len(resources)} resources")

    result = await client.call_tool(SUMMARY_TOOL, SUMMARY_ARGS)
    text = result_text(result)
    absent = [job for job in opts.expect_job if job not in text]
    ok = not result.is_error and bool(opts.expect_job) and not absent
    report(
        era,
        SUMMARY_TOOL,
        ok,
        f"acme/web #1234 names {', '.join(opts.expect_job)}"
        if ok
        else ("isError: " if result.is_error else f"missing {absent}: ") + short(text),
    )


async def api_checks(opts: argparse.Namespace, era: str, client: Client) -> None:
    check_handshake(era, "API", client)

    if opts.expect_user is not None:
        result = await client.call_tool(USER_TOOL, {})
        text = result_text(result)
        ok = not result.is_error and opts.expect_user in text
        report(
            era,
            USER_TOOL,
            ok,
            f"names {opts.expect_user!r}" if ok else ("isError: " if result.is_error else "") + short(text),
        )

    org, pipeline, number = opts.running_build.split("/")
    arguments = {"org_slug": org, "pipeline_slug": pipeline, "build_number": number}
    started = anyio.current_time()
    result = await client.call_tool(WAIT_TOOL, arguments, read_timeout_seconds=CALL_TIMEOUT)
    took = anyio.current_time() - started
    text = result_text(result)
    if result.is_error:
        report(era, WAIT_TOOL, False, "isError: " + short(text))
        return
    if era == MODERN:
        # The Tasks extension's claim ran: the text is its steps.
        try:
            steps = json.loads(text)
            statuses = [step[1] for step in steps] if isinstance(steps, list) else []
        except (ValueError, TypeError, IndexError):
            statuses = []
        if len(statuses) < 3:
            report(era, f"{WAIT_TOOL} as a task", False, "answered, not a task: " + short(text))
            return
        ok = (
            statuses[:3] == ["working", "working", "working"]
            and statuses[-1] == "cancelled"
            and "running" in (steps[1][2] or "")
        )
        report(
            era,
            f"{WAIT_TOOL} as a task",
            ok,
            " → ".join(f"{step[0]} {step[1]}" for step in steps) + f" ({steps[1][2]})",
        )
    else:
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {}
        ok = answer.get("finished") is False and answer.get("state") == "running"
        report(
            era,
            WAIT_TOOL,
            ok,
            f"still {answer.get('state')} after {answer.get('waited_seconds')} s (the call took {took:.0f} s)"
            if ok
            else short(text),
        )


async def exercise_era(opts: argparse.Namespace, era: str) -> None:
    for server, checks in (("demo", demo_checks), ("api", api_checks)):
        try:
            await connect(opts, era, server, lambda client, checks=checks: checks(opts, era, client))
        except Exception as error:  # noqa: BLE001 - every failure becomes a check line
            detail = "; ".join(f"{type(e).__name__}: {e}" for e in leaves(error))
            report(era, f"session ({server})", False, short(detail, 400))


async def run(opts: argparse.Namespace) -> None:
    with anyio.fail_after(opts.timeout):
        async with anyio.create_task_group() as group:
            for era in opts.era:
                group.start_soon(exercise_era, opts, era)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--era", action="append", choices=[LEGACY, MODERN])
    p.add_argument("--token-prefix", default="bkua_conformance")
    p.add_argument("--expect-user")
    p.add_argument("--expect-job", action="append", default=[])
    p.add_argument("--running-build", default="acme/app/43")
    p.add_argument("--timeout", type=float, default=100.0)
    sub = p.add_subparsers(dest="transport", required=True)
    s = sub.add_parser("stdio")
    s.add_argument("--env", action="append", default=[])
    s.add_argument("command", nargs=argparse.REMAINDER)
    h = sub.add_parser("http")
    h.add_argument("--demo-url", required=True)
    h.add_argument("--api-url", required=True)
    opts = p.parse_args(argv)
    opts.era = opts.era or [LEGACY, MODERN]
    if opts.running_build.count("/") != 2:
        p.error("--running-build wants ORG/PIPELINE/NUMBER")
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
        for era in opts.era:
            report(era, "session", False, detail)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
