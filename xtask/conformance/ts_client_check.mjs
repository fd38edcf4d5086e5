#!/usr/bin/env node
// Drive bk-mcp with the official MCP TypeScript SDK v2 client
// (npm @modelcontextprotocol/client, pinned in package.json) in both protocol
// eras and check what comes back. Run by `cargo xtask conformance` with the
// pinned Node 22 (`npx --no-install node ts_client_check.mjs …` from this
// directory); mcp_client_check.py does the same with the Python SDK, and its
// docstring describes the checks. The same arguments:
//
//     ts_client_check.mjs [opts] stdio [--env K=V ...] -- SERVER [ARG ...]
//     ts_client_check.mjs [opts] http --demo-url URL --api-url URL
//
// opts: --era ERA (2025-11-25 via initialize, 2026-07-28 via server/discover;
// default both, concurrently), --token-prefix P, --expect-user NAME,
// --expect-job NAME (repeatable), --running-build ORG/PIPELINE/NUMBER,
// --timeout SECS (default 100).
//
// The SDK has no tasks runtime yet: a `tools/call` answered with a task
// (resultType "task") is rejected by `callTool` as UNSUPPORTED_RESULT_TYPE.
// The check reads the task from the transport instead, then drives
// tasks/get and tasks/cancel with `client.request`, which sends them as the
// tasks extension's methods (with Mcp-Name over HTTP).
//
// Prints one JSON line per check on stdout, {"era", "check", "ok", "detail"}.
// Exit status: 0 if every check passed, 1 if one failed, 2 on bad usage.

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';

const LEGACY = '2025-11-25';
const MODERN = '2026-07-28';
const TASKS = 'io.modelcontextprotocol/tasks';
const SUMMARY_TOOL = 'get_build_failure_summary';
const SUMMARY_ARGS = { org_slug: 'acme', pipeline_slug: 'web', build_number: '1234' };
const WAIT_TOOL = 'wait_for_build';
const USER_TOOL = 'current_user';
// Longer than the server's 45 s bound on one wait_for_build call.
const CALL_TIMEOUT_MS = 90_000;
const USAGE = `usage: ts_client_check.mjs [--era ERA]... [--token-prefix P] [--expect-user NAME]
         [--expect-job NAME]... [--running-build ORG/PIPELINE/NUMBER] [--timeout SECS]
         (stdio [--env K=V]... -- SERVER [ARG...] | http --demo-url URL --api-url URL)`;

/** A result schema that takes any object (the tasks methods have none in the SDK). */
const ANY = { '~standard': { version: 1, vendor: 'bk-mcp', validate: (value) => ({ value }) } };

let failures = 0;

function report(era, check, ok, detail) {
  failures += ok ? 0 : 1;
  process.stdout.write(`${JSON.stringify({ era, check, ok, detail })}\n`);
}

function short(text, limit = 160) {
  const flat = String(text).split(/\s+/).filter(Boolean).join(' ');
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 3)}...`;
}

function resultText(result) {
  const texts = (result.content ?? []).filter((b) => b.type === 'text').map((b) => b.text);
  if (texts.length > 0) return texts.join('\n');
  return result.structuredContent === undefined ? '' : JSON.stringify(result.structuredContent);
}

function describe(error) {
  const code = error && typeof error === 'object' && 'code' in error ? ` [${error.code}]` : '';
  return `${error?.name ?? 'Error'}${code}: ${error?.message ?? String(error)}`;
}

function usage(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv) {
  const opts = {
    era: [],
    tokenPrefix: 'bkua_conformance',
    expectUser: undefined,
    expectJob: [],
    runningBuild: 'acme/app/43',
    timeout: 100,
    env: {},
    command: [],
  };
  const args = [...argv];
  const value = (flag) => {
    if (args.length === 0) usage(`${flag} needs a value`);
    return args.shift();
  };
  while (args.length > 0) {
    const arg = args.shift();
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg === '--era') {
      const era = value(arg);
      if (era !== LEGACY && era !== MODERN) usage(`--era is ${LEGACY} or ${MODERN}`);
      opts.era.push(era);
    } else if (arg === '--token-prefix') opts.tokenPrefix = value(arg);
    else if (arg === '--expect-user') opts.expectUser = value(arg);
    else if (arg === '--expect-job') opts.expectJob.push(value(arg));
    else if (arg === '--running-build') opts.runningBuild = value(arg);
    else if (arg === '--timeout') opts.timeout = Number(value(arg));
    else if (arg === 'stdio') {
      opts.transport = 'stdio';
      while (args.length > 0 && args[0] !== '--') {
        const flag = args.shift();
        if (flag !== '--env') usage(`unexpected ${flag}`);
        const kv = value(flag);
        const at = kv.indexOf('=');
        if (at < 1) usage(`bad --env ${kv}, want K=V`);
        opts.env[kv.slice(0, at)] = kv.slice(at + 1);
      }
      args.shift();
      opts.command = args.splice(0);
      if (opts.command.length === 0) usage('stdio needs a server command after --');
    } else if (arg === 'http') {
      opts.transport = 'http';
      while (args.length > 0) {
        const flag = args.shift();
        if (flag === '--demo-url') opts.demoUrl = value(flag);
        else if (flag === '--api-url') opts.apiUrl = value(flag);
        else usage(`unexpected ${flag}`);
      }
      if (!opts.demoUrl || !opts.apiUrl) usage('http needs --demo-url and --api-url');
    } else usage(`unexpected ${arg}`);
  }
  if (!opts.transport) usage('stdio or http?');
  if (opts.era.length === 0) opts.era = [LEGACY, MODERN];
  if (opts.runningBuild.split('/').length !== 3) usage('--running-build wants ORG/PIPELINE/NUMBER');
  if (!(opts.timeout > 0)) usage('--timeout wants seconds');
  return opts;
}

/** Opens a session with `server` ("demo" or "api") at `era` and runs `check(client, raw)`. */
async function connect(opts, era, server, check) {
  const token = `${opts.tokenPrefix}_${era.replaceAll('-', '')}`;
  let transport;
  if (opts.transport === 'stdio') {
    const env = { ...getDefaultEnvironment(), ...opts.env };
    if (server === 'api') env.BUILDKITE_API_TOKEN = token;
    const args = [...opts.command.slice(1), ...(server === 'demo' ? ['--demo'] : [])];
    transport = new StdioClientTransport({ command: opts.command[0], args, env, stderr: 'inherit' });
  } else {
    const url = new URL(server === 'demo' ? opts.demoUrl : opts.apiUrl);
    const headers = server === 'api' ? { Authorization: `Bearer ${token}` } : {};
    transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  }
  const client = new Client(
    { name: 'bk-mcp-conformance-typescript', version: '1' },
    {
      // legacy: initialize; a pin: server/discover must offer that version.
      versionNegotiation: { mode: era === LEGACY ? 'legacy' : { pin: MODERN } },
      capabilities: era === MODERN ? { extensions: { [TASKS]: {} } } : {},
    },
  );
  await client.connect(transport);
  // Every message the server sends, as received (for the task result).
  const raw = [];
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    raw.push(message);
    deliver.call(transport, message, extra);
  };
  try {
    await check(client, raw);
  } finally {
    await client.close().catch(() => {});
  }
}

function checkHandshake(era, server, client) {
  const how = era === LEGACY ? 'initialize' : 'server/discover';
  const version = client.getNegotiatedProtocolVersion();
  const viaDiscover = client.getDiscoverResult() !== undefined;
  const ok = version === era && viaDiscover === (era === MODERN) && client.getProtocolEra() === (era === MODERN ? 'modern' : 'legacy');
  const info = client.getServerVersion();
  const who = info ? `, server ${info.name} ${info.version}` : '';
  report(era, `${how} (${server})`, ok, `${how} → ${version}${who}${ok ? '' : `; wanted ${era} via ${how}`}`);
}

async function demoChecks(opts, era, client) {
  checkHandshake(era, 'demo', client);

  const { tools } = await client.listTools(); // every page
  const names = new Set(tools.map((t) => t.name));
  const problems = tools.filter((t) => !t.description || t.inputSchema?.type !== 'object').map((t) => t.name);
  const missing = [SUMMARY_TOOL, WAIT_TOOL, USER_TOOL].filter((n) => !names.has(n));
  report(
    era,
    'tools/list',
    tools.length > 0 && problems.length === 0 && missing.length === 0,
    `${tools.length} tools${problems.length ? `; without description or object inputSchema: ${problems}` : ''}${missing.length ? `; missing: ${missing}` : ''}`,
  );

  const caps = client.getServerCapabilities() ?? {};
  if (caps.prompts) {
    const { prompts } = await client.listPrompts();
    report(era, 'prompts/list', prompts.length > 0 && prompts.every((p) => p.description), JSON.stringify(prompts.map((p) => p.name)));
  }
  if (caps.resources) {
    const { resources } = await client.listResources();
    report(era, 'resources/list', resources.every((r) => r.uri && r.name), `${resources.length} resources`);
  }

  const result = await client.callTool({ name: SUMMARY_TOOL, arguments: SUMMARY_ARGS });
  const text = resultText(result);
  const absent = opts.expectJob.filter((job) => !text.includes(job));
  const ok = !result.isError && opts.expectJob.length > 0 && absent.length === 0;
  report(
    era,
    SUMMARY_TOOL,
    ok,
    ok ? `acme/web #1234 names ${opts.expectJob.join(', ')}` : `${result.isError ? 'isError: ' : `missing ${JSON.stringify(absent)}: `}${short(text)}`,
  );
}

async function apiChecks(opts, era, client, raw) {
  checkHandshake(era, 'API', client);

  if (opts.expectUser !== undefined) {
    const result = await client.callTool({ name: USER_TOOL, arguments: {} });
    const text = resultText(result);
    const ok = !result.isError && text.includes(opts.expectUser);
    report(era, USER_TOOL, ok, ok ? `names ${JSON.stringify(opts.expectUser)}` : `${result.isError ? 'isError: ' : ''}${short(text)}`);
  }

  const [org, pipeline, number] = opts.runningBuild.split('/');
  const call = { name: WAIT_TOOL, arguments: { org_slug: org, pipeline_slug: pipeline, build_number: number } };
  if (era === LEGACY) {
    const started = Date.now();
    const result = await client.callTool(call, { timeout: CALL_TIMEOUT_MS });
    const took = Math.round((Date.now() - started) / 1000);
    const text = resultText(result);
    let answer = {};
    try {
      answer = JSON.parse(text);
    } catch {
      // not JSON: reported below
    }
    const ok = !result.isError && answer.finished === false && answer.state === 'running';
    report(era, WAIT_TOOL, ok, ok ? `still ${answer.state} after ${answer.waited_seconds} s (the call took ${took} s)` : `${result.isError ? 'isError: ' : ''}${short(text)}`);
    return;
  }

  const check = `${WAIT_TOOL} as a task`;
  let answered;
  try {
    answered = await client.callTool(call, { timeout: CALL_TIMEOUT_MS });
  } catch (error) {
    if (error?.data?.resultType !== 'task') throw error;
  }
  if (answered !== undefined) {
    report(era, check, false, `answered a ${answered.isError ? 'tool error' : 'result'}, not a task: ${short(resultText(answered))}`);
    return;
  }
  const task = raw.map((m) => m.result).filter((r) => r?.resultType === 'task').at(-1);
  if (!task?.taskId) {
    report(era, check, false, 'callTool said the result was a task, but none was received');
    return;
  }
  const steps = [['created', task.status, task.statusMessage]];
  for (let poll = 0; poll < 2; poll++) {
    const detail = await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, ANY);
    steps.push(['tasks/get', detail.status, detail.statusMessage]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await client.request({ method: 'tasks/cancel', params: { taskId: task.taskId } }, ANY);
  steps.push(['tasks/cancel', 'ok']);
  const last = await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, ANY);
  steps.push(['tasks/get', last.status, last.statusMessage]);
  const statuses = steps.map((s) => s[1]);
  const ok =
    statuses.slice(0, 3).every((s) => s === 'working') && statuses.at(-1) === 'cancelled' && String(steps[1][2]).includes('running');
  report(era, check, ok, `${steps.map((s) => `${s[0]} ${s[1]}`).join(' → ')} (${steps[1][2]})`);
}

async function exerciseEra(opts, era) {
  for (const [server, checks] of [
    ['demo', demoChecks],
    ['api', apiChecks],
  ]) {
    try {
      await connect(opts, era, server, (client, raw) => checks(opts, era, client, raw));
    } catch (error) {
      report(era, `session (${server})`, false, short(describe(error), 400));
    }
  }
}

async function main() {
  const opts = parse(process.argv.slice(2));
  const timer = setTimeout(() => {
    for (const era of opts.era) report(era, 'session', false, `timed out after ${opts.timeout} s`);
    process.exit(1);
  }, opts.timeout * 1000);
  await Promise.all(opts.era.map((era) => exerciseEra(opts, era)));
  clearTimeout(timer);
  process.exit(failures > 0 ? 1 : 0);
}

await main();
