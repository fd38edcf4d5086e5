#!/usr/bin/env python3
"""Writes the demo organisation `acme` under examples/demo/org/.

The tree mirrors the Buildkite REST API (see examples/demo/README.md for the
convention the fixture server follows). Everything is derived from the tables
below, so IDs, URLs, counts and timestamps agree between builds, jobs, logs,
artifacts, annotations and Test Engine data. Run it from anywhere:

    python3 examples/demo/generate.py

It is deterministic: running it twice gives the same bytes. It needs the
Python standard library and cargo: the scripted job logs are written by the
workspace's log generator (`bk-loggen`), through `cargo xtask demo-logs`
(xtask/src/demo/logs.rs), from the descriptions this script gives it.
"""

import base64
import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = HERE / "org"
# The red build's rspec, eslint and system-spec logs are the investigation
# test fixtures' (shared, so the demo and the tests tell the same story).
LOGS = REPO / "crates" / "bk-tools" / "tests" / "fixtures" / "investigations" / "logs"

API = "https://api.buildkite.com"
WEB = "https://buildkite.com"
ORG = "acme"
ORG_ID = "bb3125de-4dc9-44cf-ad18-65d2b71a5a34"
O = f"{API}/v2/organizations/{ORG}"
ANALYTICS = f"{API}/v2/analytics/organizations/{ORG}"
ANALYTICS_WEB = f"{WEB}/organizations/{ORG}/analytics"

# ----------------------------------------------------------------- helpers


def ts(text):
    """`2026-08-14T09:12:03.887` (UTC) to a datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def iso(moment):
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ms(moment):
    return int(moment.timestamp() * 1000)


def uid(name, at=None):
    """A deterministic UUID shaped like Buildkite's time-ordered ones."""
    digest = hashlib.sha1(name.encode()).hexdigest()
    prefix = f"{ms(at):012x}" if at is not None else digest[20:32]
    variant = "89ab"[int(digest[4], 16) % 4]
    return f"{prefix[:8]}-{prefix[8:12]}-4{digest[0:3]}-{variant}{digest[5:8]}-{digest[8:20]}"


def sha(name):
    return hashlib.sha1(("commit " + name).encode()).hexdigest()


def gid(kind, ident):
    return base64.b64encode(f"{kind}---{ident}".encode()).decode()


def write_json(path, value):
    path = OUT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_bytes(path, data):
    path = OUT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# ------------------------------------------------------------------- people

PRIYA = {
    "id": "6a1f0c2e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
    "name": "Priya Natarajan",
    "email": "priya@acme.example",
    "username": "priya",
    "avatar_url": "https://www.gravatar.com/avatar/8e2b4d6f0a1c3e5b7d9f1a3c5e7b9d1f",
    "created_at": "2019-03-04T08:21:17.000Z",
}
SAM = {
    "id": "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de",
    "name": "Sam Kim",
    "email": "sam@acme.example",
    "username": "samkim",
    "avatar_url": "https://www.gravatar.com/avatar/5d1b8f9e0c7a4e2f3b6d8a1c9e0f2b4d",
    "created_at": "2013-08-29T10:10:03.000Z",
}
MEI = {
    "id": "9f2e4c6a-8b0d-4f1e-a3c5-7e9b1d3f5a70",
    "name": "Mei Chen",
    "email": "mei@acme.example",
    "username": "meichen",
    "avatar_url": "https://www.gravatar.com/avatar/1c3e5a7b9d0f2e4c6a8b0d1f3e5a7c9b",
    "created_at": "2020-11-16T14:02:51.000Z",
}
DIEGO = {
    "id": "2b4d6f8a-0c1e-4a3b-9d5f-7a9c1e3b5d72",
    "name": "Diego Alvarez",
    "email": "diego@acme.example",
    "username": "dalvarez",
    "avatar_url": "https://www.gravatar.com/avatar/7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b",
    "created_at": "2021-06-01T09:45:10.000Z",
}


def creator(person):
    return {k: person[k] for k in ("id", "name", "email", "avatar_url", "created_at")}


def author(person):
    return {k: person[k] for k in ("username", "name", "email")}


# ------------------------------------------------------- clusters and agents

CLUSTER_ID = "42f1a7da-812d-4430-93d8-1cc7c33a6bcf"
CLUSTER_URL = f"{O}/clusters/{CLUSTER_ID}"
QUEUES = {
    "default": ("01885682-55a7-44f5-84f3-0402fb452e66", "Linux test runners (8 vCPU, 32 GB)"),
    "docker": ("01885682-7c41-4d2e-9b3a-5e8f0a1c2d77", "Image builds with a warm BuildKit cache"),
    "deploy": ("01885682-9e03-4b6f-8d1c-2a4e6f8b0c99", "Deploy runners with production credentials"),
}

AGENTS = [
    # name, id, queue, ip, last job finished
    ("ci-web-3", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a53", "default", "10.20.1.13", "2026-08-14T09:31:02.118Z"),
    ("ci-web-4", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a54", "default", "10.20.1.14", "2026-08-14T09:12:49.120Z"),
    ("ci-web-5", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a55", "default", "10.20.1.15", "2026-08-14T09:32:11.902Z"),
    ("ci-web-6", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a56", "default", "10.20.1.16", "2026-08-14T08:58:40.503Z"),
    ("ci-web-7", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a57", "default", "10.20.1.17", "2026-08-14T09:14:02.551Z"),
    ("ci-docker-1", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a61", "docker", "10.20.2.11", "2026-08-14T09:15:41.377Z"),
    ("ci-deploy-1", "0b461f65-1c2d-4e3f-8a9b-0c1d2e3f4a71", "deploy", "10.20.3.11", "2026-08-13T16:07:55.020Z"),
]
AGENT_VERSION = "3.101.0"


def agent_web_url(agent_id, queue):
    return f"{WEB}/organizations/{ORG}/clusters/{CLUSTER_ID}/queues/{QUEUES[queue][0]}/agents/{agent_id}"


def job_agent(name):
    for agent_name, agent_id, queue, _, _ in AGENTS:
        if agent_name == name:
            return {
                "id": agent_id,
                "url": f"{O}/agents/{agent_id}",
                "web_url": agent_web_url(agent_id, queue),
                "name": agent_name,
                "hostname": agent_name,
                "connection_state": "connected",
            }
    raise KeyError(name)


def write_agents():
    for name, agent_id, queue, ip, last in AGENTS:
        write_json(
            f"v2/organizations/{ORG}/agents/{agent_id}.json",
            {
                "id": agent_id,
                "graphql_id": gid("Agent", agent_id),
                "url": f"{O}/agents/{agent_id}",
                "web_url": agent_web_url(agent_id, queue),
                "name": name,
                "connection_state": "connected",
                "hostname": name,
                "ip_address": ip,
                "user_agent": f"buildkite-agent/{AGENT_VERSION}.10931 (linux; amd64)",
                "version": AGENT_VERSION,
                "os_id": "linux",
                "arch": "amd64",
                "queue": queue,
                "creator": None,
                "created_at": "2026-08-11T06:02:17.430Z",
                "connected_at": "2026-08-11T06:02:19.884Z",
                "disconnected_at": None,
                "lost_at": None,
                "stopped_at": None,
                "job": None,
                "last_job_finished_at": last,
                "priority": None,
                "meta_data": [f"queue={queue}", "os=linux", "instance-type=c7i.2xlarge"],
            },
        )


def write_clusters():
    write_json(
        f"v2/organizations/{ORG}/clusters/{CLUSTER_ID}.json",
        {
            "id": CLUSTER_ID,
            "graphql_id": gid("Cluster", CLUSTER_ID),
            "default_queue_id": QUEUES["default"][0],
            "name": "Acme CI",
            "description": "Self-hosted agents on AWS (eu-west-1)",
            "emoji": ":aws:",
            "color": "#FFE0F1",
            "maintainers": {"users": [{"id": SAM["id"], "name": SAM["name"], "email": SAM["email"]}], "teams": []},
            "url": CLUSTER_URL,
            "web_url": f"{WEB}/organizations/{ORG}/clusters/{CLUSTER_ID}",
            "queues_url": f"{CLUSTER_URL}/queues",
            "default_queue_url": f"{CLUSTER_URL}/queues/{QUEUES['default'][0]}",
            "created_at": "2023-05-03T04:17:55.867Z",
            "created_by": {**creator(SAM), "graphql_id": gid("User", SAM["id"])},
        },
    )
    for key, (queue_id, description) in QUEUES.items():
        write_json(
            f"v2/organizations/{ORG}/clusters/{CLUSTER_ID}/queues/{queue_id}.json",
            {
                "id": queue_id,
                "graphql_id": gid("ClusterQueue", queue_id),
                "key": key,
                "description": description,
                "url": f"{CLUSTER_URL}/queues/{queue_id}",
                "web_url": f"{WEB}/organizations/{ORG}/clusters/{CLUSTER_ID}/queues/{queue_id}",
                "cluster_url": CLUSTER_URL,
                "retry_agent_affinity": "prefer-warmest" if key != "docker" else "prefer-different",
                "dispatch_paused": False,
                "dispatch_paused_by": None,
                "dispatch_paused_at": None,
                "dispatch_paused_note": None,
                "created_at": "2023-05-03T04:17:55.867Z",
                "created_by": creator(SAM),
            },
        )


# ---------------------------------------------------------------- pipelines

WEB_STEPS = """steps:
  - label: ":docker: Build image"
    key: docker-build
    command: docker buildx build --push --tag "$IMAGE" .
    agents:
      queue: docker
    retry:
      automatic:
        - exit_status: "*"
          limit: 2

  - label: ":rspec: RSpec"
    key: rspec
    command: bin/ci/rspec
    artifact_paths: "log/test.log;coverage/**/*"

  - label: ":eslint: Lint"
    key: eslint
    command:
      - yarn install --frozen-lockfile
      - node_modules/.bin/eslint --format compact --max-warnings 0 app/javascript

  - label: ":capybara: System specs"
    key: system-specs
    command: bin/ci/system-specs
    timeout_in_minutes: 20
    artifact_paths: "tmp/capybara/*.png"

  - label: ":rocket: Deploy preview"
    key: deploy-preview
    if: build.branch != "main"
    depends_on: [docker-build, rspec, eslint, system-specs]
    command: bin/deploy preview
    agents:
      queue: deploy

  - label: ":rocket: Deploy staging"
    key: deploy-staging
    if: build.branch == "main"
    depends_on: [docker-build, rspec, eslint, system-specs]
    trigger: deploy
    build:
      commit: "$BUILDKITE_COMMIT"
      branch: main
      env:
        DEPLOY_ENV: staging
"""

UPLOAD_CONFIGURATION = """steps:
  - label: ":pipeline: Upload pipeline"
    command: buildkite-agent pipeline upload
"""

PIPELINES = {
    "web": {
        "id": "849411f9-9e6d-4739-a0d8-e247088e9b52",
        "name": "Web",
        "description": "The acme.example storefront (Rails + React)",
        "repository": "git@github.com:acme/web.git",
        "emoji": ":rails:",
        "color": "#D30001",
        "tags": ["rails", "storefront"],
        "created_at": "2019-03-11 10:02:44 UTC",
        "badge": "3f9a1c7e5b2d8e4f6a0c9b1d3e5f7a2c4b6d8e0f1a3c5e7b9d",
        "configuration": UPLOAD_CONFIGURATION,
        "cancel_running_branch_builds": True,
    },
    "api": {
        "id": "5c2e8a1f-3d4b-4e6f-9a7c-1b3d5f7a9c20",
        "name": "API",
        "description": "Public REST API (Go)",
        "repository": "git@github.com:acme/api.git",
        "emoji": ":go:",
        "color": "#00ADD8",
        "tags": ["go"],
        "created_at": "2021-02-08 16:30:12 UTC",
        "badge": "7b1d3f5a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a5c7e9b",
        "configuration": "steps:\n  - label: \":go: Test\"\n    key: test\n    command: go test -race ./...\n  - label: \":golangci-lint: Lint\"\n    key: lint\n    command: golangci-lint run\n",
        "cancel_running_branch_builds": False,
    },
    "deploy": {
        "id": "e07b4c9a-1f2d-4a3e-8b5c-6d7e8f9a0b31",
        "name": "Deploy",
        "description": "Rolls web out to staging and production (triggered by web)",
        "repository": "git@github.com:acme/web.git",
        "emoji": ":rocket:",
        "color": "#7B61FF",
        "tags": ["deploy"],
        "created_at": "2019-05-20 08:15:37 UTC",
        "badge": "2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6a8c1e3b5d7f9a",
        "configuration": "steps:\n  - label: \":terraform: Plan\"\n    key: plan\n    command: bin/deploy plan\n  - label: \":kubernetes: Roll out\"\n    key: rollout\n    command: bin/deploy rollout \"$DEPLOY_ENV\"\n",
        "cancel_running_branch_builds": False,
    },
}


def pipeline_object(slug):
    p = PIPELINES[slug]
    url = f"{O}/pipelines/{slug}"
    return {
        "id": p["id"],
        "graphql_id": gid("Pipeline", p["id"]),
        "url": url,
        "web_url": f"{WEB}/{ORG}/{slug}",
        "name": p["name"],
        "description": p["description"],
        "slug": slug,
        "repository": p["repository"],
        "cluster_id": CLUSTER_ID,
        "cluster_url": CLUSTER_URL,
        "branch_configuration": None,
        "default_branch": "main",
        "skip_queued_branch_builds": False,
        "skip_queued_branch_builds_filter": None,
        "cancel_running_branch_builds": p["cancel_running_branch_builds"],
        "cancel_running_branch_builds_filter": None,
        "allow_rebuilds": True,
        "provider": {
            "id": "github",
            "webhook_url": "",
            "settings": {
                "trigger_mode": "code",
                "build_pull_requests": True,
                "build_branches": True,
                "publish_commit_status": True,
                "repository": p["repository"].split(":", 1)[1].removesuffix(".git"),
            },
        },
        "builds_url": f"{url}/builds",
        "badge_url": f"https://badge.buildkite.com/{p['badge']}.svg",
        "created_by": creator(SAM),
        "created_at": p["created_at"],
        "archived_at": None,
        "env": {},
        "scheduled_builds_count": 0,
        "running_builds_count": 0,
        "scheduled_jobs_count": 0,
        "running_jobs_count": 0,
        "waiting_jobs_count": 0,
        "visibility": "private",
        "tags": p["tags"],
        "emoji": p["emoji"],
        "color": p["color"],
        "configuration": p["configuration"],
        "steps": [
            {
                "type": "script",
                "name": ":pipeline: Upload pipeline",
                "command": "buildkite-agent pipeline upload",
                "artifact_paths": None,
                "branch_configuration": None,
                "env": {},
                "timeout_in_minutes": None,
                "agent_query_rules": [],
                "concurrency": None,
                "parallelism": None,
            }
        ]
        if slug == "web"
        else [],
    }


def write_pipelines():
    for slug in PIPELINES:
        write_json(f"v2/organizations/{ORG}/pipelines/{slug}.json", pipeline_object(slug))
    schedule_id = "b3a1e9f2-7c4d-4f1a-9e6c-2d8a5f7b1c3d"
    write_json(
        f"v2/organizations/{ORG}/pipelines/web/schedules/{schedule_id}.json",
        {
            "id": schedule_id,
            "graphql_id": gid("PipelineSchedule", schedule_id),
            "url": f"{O}/pipelines/web/schedules/{schedule_id}",
            "label": "Nightly full suite",
            "cronline": "0 2 * * *",
            "message": "Nightly build: full suite, no test splitting",
            "commit": "HEAD",
            "branch": "main",
            "env": {"FULL_SUITE": "true"},
            "enabled": True,
            "next_build_at": "2026-08-15T02:00:00.000Z",
            "failed_message": None,
            "failed_at": None,
            "created_at": "2024-01-08T12:00:00.000Z",
            "created_by": {k: SAM[k] for k in ("id", "name", "email")},
            "pipeline": {"id": PIPELINES["web"]["id"], "slug": "web", "url": f"{O}/pipelines/web"},
        },
    )


# -------------------------------------------------------------------- builds
#
# Each job: (key, name, kind, queue, agent, command, artifact_paths)

WEB_JOBS = {
    "upload": (None, ":pipeline: Upload pipeline", "script", "default", "ci-web-6", "buildkite-agent pipeline upload", None),
    "docker-build": ("docker-build", ":docker: Build image", "script", "docker", "ci-docker-1", 'docker buildx build --push --tag "$IMAGE" .', None),
    "rspec": ("rspec", ":rspec: RSpec", "script", "default", "ci-web-7", "bin/ci/rspec", "log/test.log;coverage/**/*"),
    "eslint": ("eslint", ":eslint: Lint", "script", "default", "ci-web-4", "yarn install --frozen-lockfile\nnode_modules/.bin/eslint --format compact --max-warnings 0 app/javascript", None),
    "system-specs": ("system-specs", ":capybara: System specs", "script", "default", "ci-web-5", "bin/ci/system-specs", "tmp/capybara/*.png"),
    "deploy-preview": ("deploy-preview", ":rocket: Deploy preview", "script", "deploy", "ci-deploy-1", "bin/deploy preview", None),
    "deploy-staging": ("deploy-staging", ":rocket: Deploy staging", "trigger", None, None, None, None),
}
API_JOBS = {
    "test": ("test", ":go: Test", "script", "default", "ci-web-6", "go test -race ./...", "coverage.out"),
    "lint": ("lint", ":golangci-lint: Lint", "script", "default", "ci-web-3", "golangci-lint run", None),
}
DEPLOY_JOBS = {
    "plan": ("plan", ":terraform: Plan", "script", "deploy", "ci-deploy-1", "bin/deploy plan", None),
    "rollout": ("rollout", ":kubernetes: Roll out", "script", "deploy", "ci-deploy-1", 'bin/deploy rollout "$DEPLOY_ENV"', None),
}
STEP_IDS = {}


def step_id(pipeline, key):
    return STEP_IDS.setdefault((pipeline, key), uid(f"step {pipeline} {key}"))


def make_job(pipeline, number, table, key, state, start, seconds, **extra):
    """A job object, exactly as the API gives it in a build or a jobs list."""
    step_key, name, kind, queue, agent, command, artifact_paths = table[key]
    job_id = extra.pop("id", None) or uid(f"job {pipeline} {number} {key} {extra.get('attempt', 0)}", start)
    extra.pop("attempt", None)
    build_url = f"{O}/pipelines/{pipeline}/builds/{number}"
    ran = state not in ("broken", "skipped", "not_run") and start is not None
    finished = start + timedelta(seconds=seconds) if start is not None else None
    exit_status = {"passed": 0, "failed": 1, "timed_out": -1, "canceled": -1}.get(state)
    job = {
        "id": job_id,
        "graphql_id": gid("JobTypeCommand" if kind == "script" else "JobTypeTrigger", job_id),
        "type": kind,
        "name": name,
        "label": name,
        "step_key": step_key,
        "group_key": None,
        "step": {"id": step_id(pipeline, key), "signature": None},
        "priority": {"number": 0},
        "agent_query_rules": [f"queue={queue}"] if queue else [],
        "state": state,
        "build_url": build_url,
        "web_url": f"{WEB}/{ORG}/{pipeline}/builds/{number}#{job_id}",
    }
    if kind == "script":
        job.update(
            {
                "log_url": f"{build_url}/jobs/{job_id}/log",
                "raw_log_url": f"{build_url}/jobs/{job_id}/log.txt",
                "artifacts_url": f"{build_url}/jobs/{job_id}/artifacts",
                "command": command,
                "soft_failed": False,
                "exit_status": exit_status if ran else None,
                "signal": None,
                "signal_reason": None,
                "broken_reason": None,
                "artifact_paths": artifact_paths or "",
                "agent": job_agent(agent) if ran else None,
            }
        )
    created = extra.pop("created", None) or (start - timedelta(seconds=3) if start else None)
    job.update(
        {
            "created_at": iso(created),
            "scheduled_at": iso(created + timedelta(milliseconds=16)) if created else None,
            "runnable_at": iso(created + timedelta(milliseconds=213)) if ran and created else None,
            "started_at": iso(start) if ran else None,
            "finished_at": iso(finished) if state not in ("running", "scheduled") else None,
            "expired_at": None,
            "concurrency_wait_time_ms": None,
            "retried": False,
            "retried_in_job_id": None,
            "retries_count": None,
            "retry_source": None,
            "retry_type": None,
            "retried_by": None,
            "parallel_group_index": None,
            "parallel_group_total": None,
            "matrix": None,
            "cluster_id": CLUSTER_ID,
            "cluster_url": CLUSTER_URL,
            "cluster_queue_id": QUEUES[queue or "default"][0],
            "cluster_queue_url": f"{CLUSTER_URL}/queues/{QUEUES[queue or 'default'][0]}",
            "promised_exit_status": None,
            "promised_exit_status_at": None,
        }
    )
    if kind == "trigger":
        job["async"] = False
        job["triggered_build"] = extra.pop("triggered_build", None)
    for field, value in extra.items():
        job[field] = value
    return job


def count_states(jobs):
    states = {}
    for job in jobs:
        states[job["state"]] = states.get(job["state"], 0) + 1
    return {"total": len(jobs), "states": states}


def make_build(pipeline, number, *, branch, message, person, state, created, jobs, commit=None,
               pull_request=None, test_runs=None, failing_at=None, cancel_reason=None,
               triggered_from=None, source="webhook", meta_data=None):
    build_id = uid(f"build {pipeline} {number}", created)
    commit = commit or sha(f"{pipeline} {number}")
    started = min(ts_parse(j["started_at"]) for j in jobs if j.get("started_at"))
    finished = max(ts_parse(j["finished_at"]) for j in jobs if j.get("finished_at"))
    build = {
        "id": build_id,
        "graphql_id": gid("Build", build_id),
        "url": f"{O}/pipelines/{pipeline}/builds/{number}",
        "web_url": f"{WEB}/{ORG}/{pipeline}/builds/{number}",
        "number": number,
        "state": state,
        "blocked": False,
        "cancel_reason": cancel_reason,
        "message": message,
        "commit": commit,
        "branch": branch,
        "tag": None,
        "env": {},
        "source": source,
        "author": author(person),
        "creator": creator(person),
        "jobs": jobs,
        "job_state_counts": count_states(jobs),
        "created_at": iso(created),
        "scheduled_at": iso(created),
        "started_at": iso(started),
        "failing_at": iso(failing_at) if failing_at else None,
        "finished_at": iso(finished),
        "meta_data": meta_data if meta_data is not None else {"buildkite:git:commit": f"commit {commit}"},
        "pull_request": pull_request or {},
        "merge_queue": None,
        "rebuilt_from": None,
        "triggered_from": triggered_from,
        "pipeline": pipeline_object(pipeline),
    }
    if test_runs:
        build["test_engine"] = {
            "runs": [{"id": run_id, "suite": {"id": SUITES[slug]["id"], "slug": slug}} for slug, run_id in test_runs]
        }
    else:
        build["test_engine"] = {"runs": []}
    return build


def ts_parse(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


# -------------------------------------------------------------- test engine

SUITES = {
    "web-rspec": {
        "id": "3e979a94-a479-4a6e-ab8d-8b6607ffb62c",
        "name": "Web: RSpec",
        "emoji": ":rspec:",
        "color": "#FF4F4F",
        "job": "rspec",
    },
    "web-system": {
        "id": "3e979a94-a479-4a6e-ab8d-8b6607ffb63d",
        "name": "Web: System specs",
        "emoji": ":capybara:",
        "color": "#7FDBFF",
        "job": "system-specs",
    },
    "api-go": {
        "id": "3e979a94-a479-4a6e-ab8d-8b6607ffb64e",
        "name": "API: go test",
        "emoji": ":go:",
        "color": "#00ADD8",
        "job": "test",
    },
}

# Tests: id suffix, suite, scope, name, location, labels, reliability,
# duration avg, executions by result across the suite's history.
TESTS = [
    ("401", "web-rspec", "Api::OrdersController GET /api/orders", "returns the orders", "./spec/requests/api/orders_spec.rb:18", [], 0.993, 0.214, {"passed": 151, "failed": 1}),
    ("402", "web-rspec", "Api::OrdersController GET /api/orders/:id", "returns the order", "./spec/requests/api/orders_spec.rb:34", [], 0.993, 0.198, {"passed": 151, "failed": 1}),
    ("403", "web-rspec", "Order#total", "applies the discount", "./spec/models/order_spec.rb:41", [], 0.966, 0.012, {"passed": 28, "failed": 1}),
    ("404", "web-rspec", "User#email", "is correctly formatted", "./spec/models/user_spec.rb:42", ["flaky"], 0.94, 0.021, {"passed": 143, "failed": 9}),
    ("405", "web-rspec", "Order#total", "rounds to cents", "./spec/models/order_spec.rb:57", [], 0.993, 0.009, {"passed": 151, "failed": 1}),
    ("408", "web-rspec", "Order#refund", "keeps the discount", "./spec/models/order_spec.rb:88", [], 1.0, 0.015, {"passed": 29}),
    ("409", "web-rspec", "Cart#add", "merges quantities of the same product", "./spec/models/cart_spec.rb:12", [], 1.0, 0.007, {"passed": 152}),
    ("406", "web-system", "Checkout", "places an order", "./spec/system/checkout_spec.rb:12", ["flaky"], 0.87, 6.412, {"passed": 131, "failed": 20}),
    ("407", "web-system", "Checkout", "shows the order confirmation", "./spec/system/checkout_spec.rb:31", [], 0.993, 2.871, {"passed": 150, "failed": 1}),
    ("410", "web-system", "Sign in", "remembers the user for 30 days", "./spec/system/sign_in_spec.rb:9", [], 1.0, 1.944, {"passed": 151}),
    ("501", "api-go", "github.com/acme/api/orders", "TestListOrders", "orders/handler_test.go:41", [], 1.0, 0.031, {"passed": 88}),
    ("502", "api-go", "github.com/acme/api/orders", "TestListOrders_Pagination", "orders/handler_test.go:77", [], 1.0, 0.044, {"passed": 88}),
]


def test_id(suffix):
    return f"01867216-8478-7fde-a55a-0300f88bb{suffix}"


def test_object(row, counts=None, reliability=None, duration=None):
    suffix, suite, scope, name, location, labels, rel, avg, by_result = row
    counts = counts or by_result
    if reliability is None:
        reliability = rel
    executions = sum(counts.values())
    avg = duration if duration is not None else avg
    ident = test_id(suffix)
    return {
        "id": ident,
        "url": f"{ANALYTICS}/suites/{suite}/tests/{ident}",
        "web_url": f"{ANALYTICS_WEB}/suites/{suite}/tests/{ident}",
        "scope": scope,
        "name": name,
        "location": location,
        "file_name": location.rsplit(":", 1)[0],
        "labels": labels,
        "reliability": reliability,
        "duration_avg": round(avg, 3),
        "duration_sum": round(avg * executions, 3),
        "duration_min": round(avg * 0.6, 3),
        "duration_max": round(avg * 2.9, 3),
        "executions_count": executions,
        "executions_count_by_result": counts,
    }


def write_suites():
    for slug, suite in SUITES.items():
        pipeline = "api" if slug.startswith("api") else "web"
        write_json(
            f"v2/analytics/organizations/{ORG}/suites/{slug}.json",
            {
                "id": suite["id"],
                "graphql_id": gid("Suite", suite["id"]),
                "organization_id": ORG_ID,
                "slug": slug,
                "name": suite["name"],
                "url": f"{ANALYTICS}/suites/{slug}",
                "web_url": f"{ANALYTICS_WEB}/suites/{slug}",
                "default_branch": "main",
                "application_name": PIPELINES[pipeline]["name"],
                "color": suite["color"],
                "emoji": suite["emoji"],
                "oidc_policy": None,
            },
        )
    for row in TESTS:
        write_json(f"v2/analytics/organizations/{ORG}/suites/{row[1]}/tests/{test_id(row[0])}.json", test_object(row))


def write_run(build, slug, run_id, failures, created):
    """A Test Engine run, and its failed executions."""
    result = "failed" if failures else "passed"
    write_json(
        f"v2/analytics/organizations/{ORG}/suites/{slug}/runs/{run_id}.json",
        {
            "id": run_id,
            "branch": build["branch"],
            "commit_sha": build["commit"],
            "state": "finished",
            "result": result,
            "url": f"{ANALYTICS}/suites/{slug}/runs/{run_id}",
            "web_url": f"{ANALYTICS_WEB}/suites/{slug}/runs/{run_id}",
            "build_id": build["id"],
            "created_at": iso(created),
        },
    )
    write_json(
        f"v2/analytics/organizations/{ORG}/suites/{slug}/runs/{run_id}/failed_executions.json",
        failures,
    )


def failed_execution(build, slug, run_id, suffix, at, reason, duration, expanded):
    row = next(r for r in TESTS if r[0] == suffix)
    ident = test_id(suffix)
    execution_id = uid(f"execution {run_id} {suffix}", at)
    return {
        "execution_id": execution_id,
        "run_id": run_id,
        "test_id": ident,
        "run_name": run_id,
        "commit_sha": build["commit"],
        "created_at": iso(at),
        "branch": build["branch"],
        "failure_reason": reason,
        "duration": duration,
        "location": row[4],
        "test_name": f"{row[2]} {row[3]}",
        "run_url": f"{ANALYTICS_WEB}/suites/{slug}/runs/{run_id}",
        "test_url": f"{ANALYTICS_WEB}/suites/{slug}/tests/{ident}",
        "test_execution_url": f"{ANALYTICS_WEB}/suites/{slug}/tests/{ident}?execution_id={execution_id}",
        "tags": {"language.name": "ruby", "test.framework.name": "rspec"},
        "failure_expanded": [expanded],
    }


# --------------------------------------------------------------------- logs

# The scripted job logs: descriptions for `cargo xtask demo-logs`, which
# writes them all at the end (see `scripted_log`).
SCRIPTED_LOGS = []


def scripted_log(pipeline, number, job_id, kind, start, commit, subject, **extra):
    """A job log the workspace's log generator writes: `kind` is `docker`
    (with `fail`), `upload` (with `steps`), `rspec`, `eslint` or
    `system-specs`; every line's time follows from `start`."""
    SCRIPTED_LOGS.append({
        "path": f"v2/organizations/{ORG}/pipelines/{pipeline}/builds/{number}/jobs/{job_id}/log.txt",
        "kind": kind,
        "start_ms": ms(start),
        "commit": commit,
        "subject": subject,
        **extra,
    })


def write_scripted_logs():
    subprocess.run(
        ["cargo", "xtask", "demo-logs", str(OUT)],
        input=json.dumps(SCRIPTED_LOGS), text=True, check=True, cwd=REPO,
    )


def write_log(pipeline, number, job_id, data):
    write_bytes(f"v2/organizations/{ORG}/pipelines/{pipeline}/builds/{number}/jobs/{job_id}/log.txt", data)


def write_env(pipeline, number, build, job, extra=None):
    env = {
        "BUILDKITE": "true",
        "BUILDKITE_AGENT_NAME": job["agent"]["name"] if job.get("agent") else "",
        "BUILDKITE_BRANCH": build["branch"],
        "BUILDKITE_BUILD_ID": build["id"],
        "BUILDKITE_BUILD_NUMBER": str(number),
        "BUILDKITE_BUILD_URL": build["web_url"],
        "BUILDKITE_COMMIT": build["commit"],
        "BUILDKITE_JOB_ID": job["id"],
        "BUILDKITE_LABEL": job["label"],
        "BUILDKITE_MESSAGE": build["message"],
        "BUILDKITE_ORGANIZATION_SLUG": ORG,
        "BUILDKITE_PIPELINE_DEFAULT_BRANCH": "main",
        "BUILDKITE_PIPELINE_SLUG": pipeline,
        "BUILDKITE_PULL_REQUEST": build["pull_request"].get("id", "false") if build["pull_request"] else "false",
        "BUILDKITE_REPO": PIPELINES[pipeline]["repository"],
        "BUILDKITE_STEP_KEY": job["step_key"] or "",
        "CI": "true",
    }
    env.update(extra or {})
    write_json(
        f"v2/organizations/{ORG}/pipelines/{pipeline}/builds/{number}/jobs/{job['id']}/env.json",
        {"env": dict(sorted(env.items()))},
    )


# ---------------------------------------------------------- the red build

RED = 1234
RED_BRANCH = "feature/discount-codes"
RED_COMMIT = "5d8e3a1c9b7f2e4d6a8c0b1e3f5a7d9c2b4e6f80"
RED_SUBJECT = "Add discount codes to checkout"
RED_ID = "0190f3a2-5c1d-4e8b-9a7f-2d6c8e4b1a93"
RUN_RSPEC = "0190f3c4-1b2a-4d3e-9f5a-6b7c8d9e0a11"
RUN_SYSTEM = "0190f3c4-1b2b-4e5f-8a6b-7c8d9e0f1a22"
JOB = {
    "upload": "0190f3a2-6a00-4e2b-8c1d-0a9b8c7d6e00",
    "docker-old": "0190f3a2-6a04-4d5b-9f3c-2a8e6b7d1c04",
    "docker-new": "0190f3b9-0e11-4a2c-8b7d-5f3e1c9a2d05",
    "rspec": "0190f3a2-6a02-4f7d-a3b8-1e6c2d9f4b02",
    "eslint": "0190f3a2-6a03-41a9-b6e2-8c4d7f1e5a03",
    "system-specs": "0190f3a2-6a06-4b8e-a1d4-9e2f5c3b7a06",
    "deploy-preview": "0190f3a2-6a09-42d7-9b1e-6f4c3a8d2b09",
}
STATUS_500 = "expected the response to have status code :ok (200) but it was :internal_server_error (500)"


def red_build():
    created = ts("2026-08-14T09:12:03.887")
    jobs_created = created + timedelta(milliseconds=18)
    def j(key, state, start, seconds, **extra):
        extra.setdefault("created", jobs_created)
        return make_job("web", RED, WEB_JOBS, key, state, ts(start) if start else None, seconds, **extra)

    upload = j("upload", "passed", "2026-08-14T09:12:04.102", 1.904, id=JOB["upload"], created=created)
    docker_old = j(
        "docker-build", "failed", "2026-08-14T09:12:07.250", 65.654, id=JOB["docker-old"],
        retried=True, retried_in_job_id=JOB["docker-new"],
    )
    docker_new = j(
        "docker-build", "passed", "2026-08-14T09:13:14.031", 147.346, id=JOB["docker-new"],
        created=ts("2026-08-14T09:13:12.910"), retries_count=1, retry_type="automatic",
        retry_source={"job_id": JOB["docker-old"], "retry_type": "automatic"},
    )
    rspec = j("rspec", "failed", "2026-08-14T09:12:10.013", 112.538, id=JOB["rspec"])
    eslint = j("eslint", "failed", "2026-08-14T09:12:08.884", 40.236, id=JOB["eslint"])
    system = j(
        "system-specs", "timed_out", "2026-08-14T09:12:11.331", 1200.571, id=JOB["system-specs"],
        signal="SIGTERM", signal_reason="cancel",
    )
    deploy = j("deploy-preview", "broken", None, 0, id=JOB["deploy-preview"])
    deploy["finished_at"] = "2026-08-14T09:32:12.004Z"
    deploy["broken_reason"] = None
    jobs = [upload, docker_old, docker_new, rspec, eslint, system, deploy]
    build = make_build(
        "web", RED, branch=RED_BRANCH, message=f"{RED_SUBJECT}\n\nCodes are applied before tax; refunds keep the discount.",
        person=PRIYA, state="failed", created=created, jobs=jobs, commit=RED_COMMIT,
        pull_request={"id": "4821", "base": "main", "repository": "git@github.com:acme/web.git", "labels": ["checkout"], "draft": False},
        test_runs=[("web-rspec", RUN_RSPEC), ("web-system", RUN_SYSTEM)],
        failing_at=ts("2026-08-14T09:12:48.884"),
    )
    build["id"] = RED_ID
    build["graphql_id"] = gid("Build", RED_ID)
    build["finished_at"] = "2026-08-14T09:32:12.004Z"
    write_json(f"v2/organizations/{ORG}/pipelines/web/builds/{RED}.json", build)

    # Logs: the test fixtures' logs, plus the docker attempts and the upload.
    write_log("web", RED, JOB["rspec"], (LOGS / "rspec.log").read_bytes())
    write_log("web", RED, JOB["eslint"], (LOGS / "eslint.log").read_bytes())
    write_log("web", RED, JOB["system-specs"], (LOGS / "system-specs.log").read_bytes())
    scripted_log("web", RED, JOB["docker-old"], "docker", ts("2026-08-14T09:12:07.250"), RED_COMMIT, RED_SUBJECT, fail=True)
    scripted_log("web", RED, JOB["docker-new"], "docker", ts("2026-08-14T09:13:14.031"), RED_COMMIT, RED_SUBJECT, fail=False)
    scripted_log("web", RED, JOB["upload"], "upload", ts("2026-08-14T09:12:04.102"), RED_COMMIT, RED_SUBJECT, steps=6)
    write_env("web", RED, build, rspec, {
        "RAILS_ENV": "test",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/web_test",
        "KNAPSACK_PRO_TEST_SUITE_TOKEN_RSPEC": "kp_5f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "BUILDKITE_ANALYTICS_TOKEN": "bkat_1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
    })

    # Annotations (the failure summary and list_annotations read them).
    annotations = [
        ("0190f3d1-0001-4a1b-9c2d-3e4f5a6b7c01", "coverage", "info", "build", None, 3,
         "<p>Line coverage: <strong>87.2%</strong> (+0.4%)</p>\n", "2026-08-14T09:14:04.112Z"),
        ("0190f3d1-0002-4a1b-9c2d-3e4f5a6b7c02", "eslint", "warning", "job", JOB["eslint"], 3,
         "<h4>ESLint: 37 warnings, 1 error</h4>\n<details>\n<summary>Warnings by rule</summary>\n<ul>\n<li><code>no-console</code> &times; 25</li>\n<li><code>@typescript-eslint/no-explicit-any</code> &times; 12</li>\n</ul>\n</details>\n<p>Error: <code>react-hooks/rules-of-hooks</code> in <code>app/javascript/components/Checkout.tsx:88</code></p>\n",
         "2026-08-14T09:12:48.601Z"),
        ("0190f3d1-0003-4a1b-9c2d-3e4f5a6b7c03", "rspec", "error", "build", None, 5,
         "<h3>:rspec: 4 failures</h3>\n<table>\n<thead><tr><th>Example</th><th>Failure</th></tr></thead>\n<tbody>\n"
         "<tr><td><code>./spec/requests/api/orders_spec.rb:18</code></td><td>expected the response to have status code :ok (200) but it was :internal_server_error (500)</td></tr>\n"
         "<tr><td><code>./spec/requests/api/orders_spec.rb:34</code></td><td>expected the response to have status code :ok (200) but it was :internal_server_error (500)</td></tr>\n"
         "<tr><td><code>./spec/models/order_spec.rb:41</code></td><td>expected: 4150 got: 4200</td></tr>\n"
         "<tr><td><code>./spec/models/order_spec.rb:57</code></td><td>expected: 1999 got: 2000</td></tr>\n"
         "</tbody>\n</table>\n<p>See <a href=\"https://buildkite.com/organizations/acme/analytics/suites/web-rspec/runs/0190f3c4-1b2a-4d3e-9f5a-6b7c8d9e0a11\">the Test Engine run</a> for all failures &amp; backtraces.</p>\n",
         "2026-08-14T09:14:01.930Z"),
        ("0190f3d1-0004-4a1b-9c2d-3e4f5a6b7c04", "bundle-size", "success", "build", None, 3,
         "<p>:package: Bundle size unchanged: <code>application.js</code> 412 kB</p>\n", "2026-08-14T09:15:40.004Z"),
        ("0190f3d1-0005-4a1b-9c2d-3e4f5a6b7c05", "capybara-screenshots", "error", "job", JOB["system-specs"], 3,
         "<p><strong>Checkout places an order</strong> failed: <code>Net::ReadTimeout</code></p>\n<p><img src=\"artifact://tmp/capybara/failures_checkout_places_an_order.png\" alt=\"screenshot\" height=\"250\"></p>\n",
         "2026-08-14T09:31:58.417Z"),
    ]
    write_json(
        f"v2/organizations/{ORG}/pipelines/web/builds/{RED}/annotations.json",
        [
            {"id": i, "context": c, "style": s, "scope": scope, "job_id": job, "priority": p, "body_html": body,
             "created_at": at, "updated_at": at}
            for i, c, s, scope, job, p, body, at in annotations
        ],
    )

    # Artifacts, and the stored content of the text ones.
    artifacts = [
        ("76365070-34d5-4104-8b91-952780f8029f", JOB["rspec"], "log/test.log", "text/plain", "log/test.log"),
        ("76365070-34d5-4104-8b91-952780f802a0", JOB["rspec"], "coverage/index.html", "text/html", "coverage/**/*"),
        ("76365070-34d5-4104-8b91-952780f802a1", JOB["rspec"], "coverage/.last_run.json", "application/json", "coverage/**/*"),
        ("76365070-34d5-4104-8b91-952780f802a2", JOB["system-specs"], "tmp/capybara/failures_checkout_places_an_order.png", "image/png", "tmp/capybara/*.png"),
    ]
    contents = {
        "log/test.log": TEST_LOG.encode(),
        "coverage/.last_run.json": b'{\n  "result": {\n    "line": 87.2,\n    "branch": 71.9\n  }\n}\n',
    }
    sizes = {"coverage/index.html": 1_948_211, "tmp/capybara/failures_checkout_places_an_order.png": 184_312}
    items = []
    for artifact_id, job_id, path, mime, glob in artifacts:
        job_url = f"{O}/pipelines/web/builds/{RED}/jobs/{job_id}"
        body = contents.get(path)
        if body is not None:
            write_bytes(f"_artifacts/{artifact_id}/{path.rsplit('/', 1)[-1]}", body)
        items.append({
            "id": artifact_id,
            "job_id": job_id,
            "url": f"{job_url}/artifacts/{artifact_id}",
            "download_url": f"{job_url}/artifacts/{artifact_id}/download",
            "state": "finished",
            "path": path,
            "dirname": path.rsplit("/", 1)[0],
            "filename": path.rsplit("/", 1)[-1],
            "mime_type": mime,
            "file_size": len(body) if body is not None else sizes[path],
            "glob_path": glob,
            "original_path": path,
            "sha1sum": hashlib.sha1(body if body is not None else path.encode()).hexdigest(),
        })
    write_json(f"v2/organizations/{ORG}/pipelines/web/builds/{RED}/artifacts.json", items)

    # The pipeline upload made by the first job.
    upload_id = "0190f3a2-7b00-4c11-9d22-3e4f5a6b7c00"
    write_json(
        f"v2/organizations/{ORG}/pipelines/web/builds/{RED}/step-uploads/{upload_id}.json",
        {
            "uuid": upload_id,
            "graphql_id": gid("StepUpload", upload_id),
            "state": "applied",
            "source": "job",
            "source_job_id": JOB["upload"],
            "replace_existing_steps": False,
            "created_jobs_count": 6,
            "rejection_type": None,
            "message": None,
            "url": f"{O}/pipelines/web/builds/{RED}/step-uploads/{upload_id}",
            "created_at": "2026-08-14T09:12:05.541Z",
            "processed_at": "2026-08-14T09:12:05.902Z",
            "definition_bytes": len(WEB_STEPS.encode()),
            "definition_yaml": WEB_STEPS,
            "definition_yaml_omitted": False,
        },
    )

    # Test Engine: the runs' failed executions, and the build's tests.
    rspec_fail = [
        ("401", "2026-08-14T09:13:21.480", STATUS_500, 0.412,
         ["Failure/Error: expect(response).to have_http_status(:ok)", STATUS_500],
         ["./spec/requests/api/orders_spec.rb:18:in `block (3 levels) in <top (required)>'"]),
        ("402", "2026-08-14T09:13:22.014", STATUS_500, 0.388,
         ["Failure/Error: expect(response).to have_http_status(:ok)", STATUS_500],
         ["./spec/requests/api/orders_spec.rb:34:in `block (3 levels) in <top (required)>'"]),
        ("403", "2026-08-14T09:13:40.771", "expected: 4150\n     got: 4200\n\n(compared using ==)", 0.011,
         ["Failure/Error: expect(order.total).to eq(4150)", "", "  expected: 4150", "       got: 4200", "", "  (compared using ==)"],
         ["./spec/models/order_spec.rb:41:in `block (3 levels) in <top (required)>'"]),
        ("404", "2026-08-14T09:13:44.302", 'expected "sam@example" to match /@.+\\./', 0.019,
         ['Failure/Error: expect(user.email).to match(/@.+\\./)', '  expected "sam@example" to match /@.+\\./'],
         ["./spec/models/user_spec.rb:42:in `block (3 levels) in <top (required)>'"]),
        ("405", "2026-08-14T09:13:51.090", "expected: 1999\n     got: 2000\n\n(compared using ==)", 0.008,
         ["Failure/Error: expect(order.total).to eq(1999)", "", "  expected: 1999", "       got: 2000", "", "  (compared using ==)"],
         ["./spec/models/order_spec.rb:57:in `block (3 levels) in <top (required)>'"]),
    ]
    system_fail = [
        ("406", "2026-08-14T09:19:02.660", "Net::ReadTimeout with #<TCPSocket:(closed)>", 61.204,
         ["Failure/Error: click_on \"Place order\"", "Net::ReadTimeout:", "  Net::ReadTimeout with #<TCPSocket:(closed)>"],
         ["./spec/system/checkout_spec.rb:19:in `block (2 levels) in <top (required)>'"]),
        ("407", "2026-08-14T09:19:09.118", STATUS_500, 2.871,
         ["Failure/Error: expect(page).to have_content(\"Thank you for your order\")", STATUS_500],
         ["./spec/system/checkout_spec.rb:31:in `block (2 levels) in <top (required)>'"]),
    ]

    def executions(slug, run_id, rows):
        return [
            failed_execution(build, slug, run_id, suffix, ts(at), reason, duration,
                             {"backtrace": backtrace, "expanded": expanded})
            for suffix, at, reason, duration, expanded, backtrace in rows
        ]

    write_run(build, "web-rspec", RUN_RSPEC, executions("web-rspec", RUN_RSPEC, rspec_fail), ts("2026-08-14T09:12:22.500"))
    write_run(build, "web-system", RUN_SYSTEM, executions("web-system", RUN_SYSTEM, system_fail), ts("2026-08-14T09:12:23.101"))

    def in_build(suffix, counts, reliability):
        row = next(r for r in TESTS if r[0] == suffix)
        return test_object(row, counts=counts, reliability=reliability)

    write_json(
        f"v2/analytics/organizations/{ORG}/builds/{RED_ID}/tests.json",
        [
            in_build("401", {"failed": 1}, 0.0),
            in_build("402", {"failed": 1}, 0.0),
            in_build("403", {"failed": 1}, 0.0),
            in_build("404", {"failed": 1, "passed": 1}, 0.5),
            in_build("405", {"failed": 1}, 0.0),
            in_build("408", {"passed": 1}, 1.0),
            in_build("409", {"passed": 1}, 1.0),
            in_build("406", {"failed": 1}, 0.0),
            in_build("407", {"failed": 1}, 0.0),
            in_build("410", {"passed": 1}, 1.0),
        ],
    )
    return build


TEST_LOG = """I, [2026-08-14T09:13:21.061122 #412]  INFO -- : Started GET "/api/orders" for 127.0.0.1 at 2026-08-14 09:13:21 +0000
I, [2026-08-14T09:13:21.063410 #412]  INFO -- : Processing by Api::OrdersController#index as JSON
D, [2026-08-14T09:13:21.064877 #412] DEBUG -- :   Account Load (0.4ms)  SELECT "accounts".* FROM "accounts" WHERE "accounts"."id" = $1 LIMIT $2  [["id", 1], ["LIMIT", 1]]
D, [2026-08-14T09:13:21.066102 #412] DEBUG -- :   Order Load (0.9ms)  SELECT "orders".* FROM "orders" WHERE "orders"."account_id" = $1 ORDER BY "orders"."created_at" DESC  [["account_id", 1]]
D, [2026-08-14T09:13:21.066990 #412] DEBUG -- :   DiscountCode Load (0.3ms)  SELECT "discount_codes".* FROM "discount_codes" WHERE "discount_codes"."id" IS NULL LIMIT $1  [["LIMIT", 1]]
I, [2026-08-14T09:13:21.067318 #412]  INFO -- : Completed 500 Internal Server Error in 4ms (ActiveRecord: 1.6ms | Allocations: 2107)
F, [2026-08-14T09:13:21.068003 #412] FATAL -- :   
NoMethodError (undefined method `code' for nil):

app/serializers/order_serializer.rb:14:in `discount_code'
app/serializers/order_serializer.rb:6:in `as_json'
app/controllers/api/orders_controller.rb:9:in `block in index'
app/controllers/api/orders_controller.rb:9:in `map'
app/controllers/api/orders_controller.rb:9:in `index'
I, [2026-08-14T09:13:21.602215 #412]  INFO -- : Started GET "/api/orders/7" for 127.0.0.1 at 2026-08-14 09:13:21 +0000
I, [2026-08-14T09:13:21.603031 #412]  INFO -- : Processing by Api::OrdersController#show as JSON
I, [2026-08-14T09:13:21.603101 #412]  INFO -- :   Parameters: {"id"=>"7"}
D, [2026-08-14T09:13:21.604512 #412] DEBUG -- :   Order Load (0.3ms)  SELECT "orders".* FROM "orders" WHERE "orders"."id" = $1 LIMIT $2  [["id", 7], ["LIMIT", 1]]
D, [2026-08-14T09:13:21.605008 #412] DEBUG -- :   DiscountCode Load (0.2ms)  SELECT "discount_codes".* FROM "discount_codes" WHERE "discount_codes"."id" IS NULL LIMIT $1  [["LIMIT", 1]]
I, [2026-08-14T09:13:21.605377 #412]  INFO -- : Completed 500 Internal Server Error in 2ms (ActiveRecord: 0.5ms | Allocations: 981)
F, [2026-08-14T09:13:21.605991 #412] FATAL -- :   
NoMethodError (undefined method `code' for nil):

app/serializers/order_serializer.rb:14:in `discount_code'
app/serializers/order_serializer.rb:6:in `as_json'
app/controllers/api/orders_controller.rb:15:in `show'
D, [2026-08-14T09:13:40.770114 #412] DEBUG -- :   DiscountCode Load (0.2ms)  SELECT "discount_codes".* FROM "discount_codes" WHERE "discount_codes"."code" = $1 LIMIT $2  [["code", "SUMMER10"], ["LIMIT", 1]]
D, [2026-08-14T09:13:40.770890 #412] DEBUG -- : Order#total: subtotal=4600 tax=460 discount=(applied after tax) total=4200
"""


# --------------------------------------------------------- the history


def web_build(number, branch, subject, person, created, outcome, *, cancel=False):
    """A web build on `branch`. `outcome` maps job keys to their state
    (everything else passed)."""
    jobs_created = created + timedelta(milliseconds=21)
    start = created + timedelta(seconds=1)
    deploy_key = "deploy-staging" if branch == "main" else "deploy-preview"
    plan = [
        ("upload", 0.2, 2.1),
        ("docker-build", 3.4, 148.0),
        ("rspec", 6.1, 71.9),
        ("eslint", 4.9, 22.3),
        ("system-specs", 7.5, 186.8),
    ]
    jobs = []
    for key, offset, seconds in plan:
        state = outcome.get(key, "passed")
        extra = {}
        if state == "timed_out":
            seconds = 1200.4
            extra = {"signal": "SIGTERM", "signal_reason": "cancel"}
        if state == "canceled":
            seconds = 41.2
            extra = {"signal": "SIGTERM", "signal_reason": "cancel"}
        jobs.append(make_job("web", number, WEB_JOBS, key, state, start + timedelta(seconds=offset), seconds,
                             created=jobs_created, **extra))
    finish = max(ts_parse(j["finished_at"]) for j in jobs)
    failed = any(j["state"] not in ("passed",) for j in jobs)
    if cancel:
        deploy = make_job("web", number, WEB_JOBS, deploy_key, "canceled", None, 0, created=jobs_created)
        deploy["finished_at"] = iso(finish)
    elif failed:
        deploy = make_job("web", number, WEB_JOBS, deploy_key, "broken", None, 0, created=jobs_created)
        deploy["finished_at"] = iso(finish)
    else:
        deploy_start = finish + timedelta(seconds=2)
        if deploy_key == "deploy-staging":
            triggered = DEPLOY_TRIGGERS.get(number)
            deploy = make_job("web", number, WEB_JOBS, deploy_key, "passed", deploy_start, 96.0, created=jobs_created,
                              triggered_build=triggered)
        else:
            deploy = make_job("web", number, WEB_JOBS, deploy_key, "passed", deploy_start, 71.5, created=jobs_created)
        finish = ts_parse(deploy["finished_at"])
    jobs.append(deploy)
    state = "canceled" if cancel else ("failed" if failed else "passed")
    first_failure = [ts_parse(j["finished_at"]) for j in jobs if j["state"] in ("failed", "timed_out")]
    commit = sha(f"web {number}")
    runs = []
    if not cancel:
        runs = [("web-rspec", uid(f"run web-rspec {number}", start + timedelta(seconds=19))),
                ("web-system", uid(f"run web-system {number}", start + timedelta(seconds=20)))]
    build = make_build(
        "web", number, branch=branch, message=subject, person=person, state=state, created=created, jobs=jobs,
        commit=commit,
        pull_request={"id": "4821", "base": "main", "repository": "git@github.com:acme/web.git", "labels": ["checkout"], "draft": False}
        if branch == RED_BRANCH else {},
        test_runs=runs, failing_at=min(first_failure) if first_failure else None,
        cancel_reason=None,
    )
    if cancel:
        build["finished_at"] = iso(finish)
    write_json(f"v2/organizations/{ORG}/pipelines/web/builds/{number}.json", build)
    for slug, run_id in runs:
        failures = []
        if slug == "web-system" and outcome.get("system-specs") == "timed_out":
            at = start + timedelta(seconds=400)
            failures = [failed_execution(
                build, slug, run_id, "406", at, "Net::ReadTimeout with #<TCPSocket:(closed)>", 61.118,
                {"backtrace": ["./spec/system/checkout_spec.rb:19:in `block (2 levels) in <top (required)>'"],
                 "expanded": ["Failure/Error: click_on \"Place order\"", "Net::ReadTimeout:",
                              "  Net::ReadTimeout with #<TCPSocket:(closed)>"]})]
        write_run(build, slug, run_id, failures, start + timedelta(seconds=19 if slug == "web-rspec" else 20))
    return build


DEPLOY_TRIGGERS = {}


def history():
    """web's history: main, and earlier builds of the red build's branch."""
    builds = {}
    # Deploy builds triggered by green main builds (numbered first, so the
    # trigger jobs can link to them).
    for web_number, deploy_number in ((1227, 310), (1228, 311), (1230, 312)):
        DEPLOY_TRIGGERS[web_number] = {
            "id": uid(f"build deploy {deploy_number}"),
            "number": deploy_number,
            "url": f"{O}/pipelines/deploy/builds/{deploy_number}",
            "web_url": f"{WEB}/{ORG}/deploy/builds/{deploy_number}",
        }
    rows = [
        (1222, "main", "Bump rails to 7.2.2.1", SAM, "2026-08-12T14:02:11.305", {}),
        (1223, "main", "Cache the product listing fragment", MEI, "2026-08-12T16:40:52.018", {}),
        (1224, "main", "Orders API: include shipping address", DIEGO, "2026-08-13T08:15:30.660", {}),
        (1225, "main", "Fix N+1 on the account page", MEI, "2026-08-13T10:03:08.447", {}),
        (1226, RED_BRANCH, "Add DiscountCode model", PRIYA, "2026-08-13T10:30:45.902", {}),
        (1227, "main", "Refund mailer: plain-text part", SAM, "2026-08-13T11:48:19.233", {}),
        (1228, "main", "Upgrade eslint to 9.9", DIEGO, "2026-08-13T13:20:57.871", {}),
        (1229, RED_BRANCH, "Discount codes: admin UI", PRIYA, "2026-08-13T14:10:02.514", {}),
        (1230, "main", "Checkout: remember the last payment method", MEI, "2026-08-13T15:55:40.096", {}),
        (1231, RED_BRANCH, "Discount codes: apply at checkout (WIP)", PRIYA, "2026-08-13T16:20:14.775", None),
        (1232, "main", "CI: system specs on Chrome 139", SAM, "2026-08-13T17:30:26.309", {"system-specs": "timed_out"}),
        (1233, "main", "Fix typo in the refund mailer", DIEGO, "2026-08-14T08:41:33.150", {"system-specs": "timed_out"}),
    ]
    for number, branch, subject, person, created, outcome in rows:
        if outcome is None:
            outcome = {k: "canceled" for k in ("docker-build", "rspec", "eslint", "system-specs")}
            outcome["upload"] = "passed"
            builds[number] = web_build(number, branch, subject, person, ts(created), outcome, cancel=True)
        else:
            builds[number] = web_build(number, branch, subject, person, ts(created), outcome)

    # Logs of the base build compare_builds picks for the red build (#1229,
    # the last green build of its branch), and of #1233's timed-out job.
    base = builds[1229]
    subject = base["message"]
    for job in base["jobs"]:
        start = ts_parse(job["started_at"]) if job.get("started_at") else None
        key = job["step_key"]
        if key in ("rspec", "eslint", "system-specs"):
            scripted_log("web", 1229, job["id"], key, start, base["commit"], subject)
        elif key == "docker-build":
            scripted_log("web", 1229, job["id"], "docker", start, base["commit"], subject, fail=False)
    return builds


def other_pipelines(web_builds):
    # deploy: triggered by green main builds of web.
    for web_number, trigger in DEPLOY_TRIGGERS.items():
        web = web_builds[web_number]
        number = trigger["number"]
        trigger_job = next(j for j in web["jobs"] if j["step_key"] == "deploy-staging")
        start = ts_parse(trigger_job["started_at"]) + timedelta(seconds=2)
        plan = make_job("deploy", number, DEPLOY_JOBS, "plan", "passed", start, 21.4, created=start - timedelta(seconds=1))
        rollout = make_job("deploy", number, DEPLOY_JOBS, "rollout", "passed", start + timedelta(seconds=23), 49.8,
                           created=start - timedelta(seconds=1))
        build = make_build(
            "deploy", number, branch="main", message=web["message"],
            person=next(p for p in (SAM, MEI, DIEGO, PRIYA) if p["id"] == web["creator"]["id"]),
            state="passed", created=start - timedelta(seconds=1), jobs=[plan, rollout], commit=web["commit"],
            triggered_from={"build_id": web["id"], "build_number": web_number, "build_pipeline_slug": "web"},
            source="trigger_job",
        )
        build["id"] = trigger["id"]
        build["graphql_id"] = gid("Build", trigger["id"])
        build["env"] = {"DEPLOY_ENV": "staging"}
        write_json(f"v2/organizations/{ORG}/pipelines/deploy/builds/{number}.json", build)
    # api: a quiet Go service.
    rows = [
        (881, "Orders: cursor pagination", DIEGO, "2026-08-12T11:20:04.118"),
        (882, "Bump golang.org/x/net to v0.28.0", SAM, "2026-08-13T09:05:51.602"),
        (883, "Orders: expose discount_code", PRIYA, "2026-08-14T08:02:37.440"),
    ]
    for number, subject, person, created in rows:
        created = ts(created)
        start = created + timedelta(seconds=2)
        test = make_job("api", number, API_JOBS, "test", "passed", start, 94.2, created=created)
        lint = make_job("api", number, API_JOBS, "lint", "passed", start + timedelta(seconds=1), 38.7, created=created)
        run_id = uid(f"run api-go {number}", start + timedelta(seconds=30))
        build = make_build("api", number, branch="main", message=subject, person=person, state="passed",
                           created=created, jobs=[test, lint], test_runs=[("api-go", run_id)])
        write_json(f"v2/organizations/{ORG}/pipelines/api/builds/{number}.json", build)
        write_run(build, "api-go", run_id, [], start + timedelta(seconds=30))


# ----------------------------------------------------------- org and user


def write_org():
    write_json(
        "v2/user.json",
        {
            "id": PRIYA["id"],
            "graphql_id": gid("User", PRIYA["id"]),
            "name": PRIYA["name"],
            "email": PRIYA["email"],
            "avatar_url": PRIYA["avatar_url"],
            "created_at": PRIYA["created_at"],
        },
    )
    write_json(
        "v2/access-token.json",
        {
            "uuid": "c7e2a0d4-58b1-4f3e-9a6d-2e8f1b7c3a95",
            "scopes": [
                "read_agents",
                "read_artifacts",
                "read_build_logs",
                "read_builds",
                "read_clusters",
                "read_job_env",
                "read_organizations",
                "read_pipelines",
                "read_suites",
                "read_user",
            ],
            "description": "bk-mcp (read only)",
            "created_at": "2026-07-30 08:14:22 UTC",
            "expires_at": None,
            "user": {"name": PRIYA["name"], "email": PRIYA["email"]},
        },
    )
    write_json(
        f"v2/organizations/{ORG}.json",
        {
            "id": ORG_ID,
            "graphql_id": gid("Organization", ORG_ID),
            "url": O,
            "web_url": f"{WEB}/{ORG}",
            "name": "Acme",
            "slug": ORG,
            "pipelines_url": f"{O}/pipelines",
            "agents_url": f"{O}/agents",
            "emojis_url": f"{O}/emojis",
            "created_at": "2015-05-09T21:05:59.874Z",
        },
    )


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    write_org()
    write_pipelines()
    write_clusters()
    write_agents()
    write_suites()
    builds = history()
    red_build()
    other_pipelines(builds)
    write_scripted_logs()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    files = sum(1 for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {files} files, {total} bytes, under {OUT}")


if __name__ == "__main__":
    main()
