"""Run a composite GitHub Action's shell steps as written, the way a runner would.

No runner such as `act` is needed: `action.yml` is parsed, each step's `${{ ... }}`
expressions are expanded from the inputs, the `github` context and earlier steps' outputs,
and each `run:` goes to `bash --noprofile --norc -eo pipefail` (GitHub's `shell: bash`)
with the step's `env:` and the runner's variables (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
GITHUB_ACTION_PATH, ...). A `uses:` step (actions/setup-python) is not run: the test's
Python stands in for it.

`FakeGitHub` is the GitHub REST API's issue comments on 127.0.0.1: list (paged), create,
update; it records every request.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

__all__ = [
    "ActionRun",
    "FakeGitHub",
    "StepResult",
    "fake_github",
    "run_action",
    "run_rlcm_action",
]

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
ACTION_DIR = Path(__file__).resolve().parents[2]  # the repository: action.yml at its root
# a runner with rlcm's dependencies at hand and no network (see conftest.runner_python)
OFFLINE_PIP = "--no-deps --no-build-isolation --no-index"


@dataclass
class StepResult:
    name: str
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]


@dataclass
class ActionRun:
    steps: list[StepResult]
    summary: str
    outputs: dict[str, str]

    @property
    def exit_code(self) -> int:
        """The job's view: the first failing step's code, else 0."""
        return next((s.exit_code for s in self.steps if s.exit_code), 0)

    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.exit_code})\n{s.stdout}{s.stderr}" for s in self.steps)


def _lookup(path: str, context: Mapping[str, Any]) -> str:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ""  # GitHub expands an unknown property to an empty string
        value = value[part]
    return "" if value is None else str(value)


def expand(text: str, context: Mapping[str, Any]) -> str:
    """`${{ inputs.x }}`, `${{ github.event.pull_request.number }}`, `${{ steps.a.outputs.b }}`
    (the only expressions action.yml uses outside `if:`)."""

    def one(match: re.Match[str]) -> str:
        expression = match[1]
        if not re.fullmatch(r"[\w.-]+", expression):
            raise ValueError(f"expression not supported by this runner: {expression!r}")
        return _lookup(expression, context)

    return EXPRESSION.sub(one, text)


def _read_outputs(path: Path) -> dict[str, str]:
    outputs = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            outputs[key] = value
    return outputs


def run_action(
    action_dir: Path,
    inputs: Mapping[str, str],
    *,
    workdir: Path,
    env: Mapping[str, str],
    github: Mapping[str, Any],
) -> ActionRun:
    """Run `action_dir/action.yml` with `inputs` (`with:`), in `workdir`."""
    action = yaml.safe_load((action_dir / "action.yml").read_text())
    unknown = set(inputs) - set(action["inputs"])
    assert not unknown, f"not inputs of the action: {unknown}"
    given = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    context: dict[str, Any] = {"github": github, "steps": {}}
    given = {k: expand(v, context) for k, v in given.items()}  # ${{ github.token }}
    context["inputs"] = {**given, **inputs}
    runner = workdir / ".runner"
    runner.mkdir(exist_ok=True)
    summary = runner / "step_summary.md"
    summary.touch()
    results = []
    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), step["uses"]
            continue
        output = runner / f"output-{index}"
        output.write_text("")
        step_env = {
            **env,
            "GITHUB_ACTION_PATH": str(action_dir),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_EVENT_NAME": str(github.get("event_name", "")),
            "GITHUB_REPOSITORY": str(github.get("repository", "")),
            "GITHUB_API_URL": str(github.get("api_url", "")),
            "RUNNER_TEMP": str(runner),
            **{k: expand(str(v), context) for k, v in (step.get("env") or {}).items()},
        }
        assert step["shell"] == "bash"
        script = expand(step["run"], context)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workdir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs = _read_outputs(output)
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": outputs}
        name = expand(step.get("name", f"step {index}"), context)
        results.append(StepResult(name, done.returncode, done.stdout, done.stderr, outputs))
        if done.returncode != 0:
            break  # a failed step ends the job (the action's steps have no `if: always()`)
    declared = {
        name: expand(str(spec["value"]), context) for name, spec in action["outputs"].items()
    }
    return ActionRun(results, summary.read_text(), declared)


@dataclass
class FakeGitHub:
    """Issue comments of one repository, as GitHub's REST API serves them."""

    url: str
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        fake.requests.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                "authorization": self.headers.get("authorization"),
                "body": body,
            }
        )
        status, answer = self._answer(fake, parts.path, parts.query, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, fake: FakeGitHub, path: str, query: str, body: Any) -> tuple[int, Any]:
        listing = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)/comments", path)
        single = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/comments/(\d+)", path)
        if listing and self.command == "GET":
            params = parse_qs(query)
            page, per_page = int(params.get("page", ["1"])[0]), int(params["per_page"][0])
            items = [c for c in fake.comments.values() if c["issue"] == int(listing[1])]
            return 200, items[(page - 1) * per_page : page * per_page]
        if listing and self.command == "POST":
            new_id = 1000 + len(fake.comments)
            fake.comments[new_id] = {"id": new_id, "issue": int(listing[1]), "body": body["body"]}
            return 201, fake.comments[new_id]
        if single and self.command == "PATCH" and int(single[1]) in fake.comments:
            fake.comments[int(single[1])]["body"] = body["body"]
            return 200, fake.comments[int(single[1])]
        return 404, {"message": "Not Found"}

    do_GET = do_POST = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    fake: FakeGitHub


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeGitHub(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def clean_env() -> dict[str, str]:
    """The runner's environment: this process's, without a config or colour overrides."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("RLCM_", "GITHUB_"))}


def run_rlcm_action(
    checkout: Path,
    runner_bin: Path,
    github: FakeGitHub,
    event: str,
    inputs: Mapping[str, str],
    env: Mapping[str, str] | None = None,
) -> ActionRun:
    """rlcm's action in `checkout` on `event`, with the runner's Python first on PATH, the
    demo token, and the comment API at `github`; pull requests are number 7."""
    environ = {**clean_env(), **(env or {})}
    environ["PATH"] = f"{runner_bin}{os.pathsep}{environ.get('PATH', '')}"
    environ.setdefault("WORKATO_API_TOKEN", "demo-token")
    environ["PIP_NO_INDEX"] = "1"
    context: dict[str, Any] = {
        "token": "ghs_faketoken",
        "event_name": event,
        "repository": "acme/workato-config",
        "api_url": github.url,
        "event": {"pull_request": {"number": 7}} if event == "pull_request" else {},
    }
    given = {"pip-args": OFFLINE_PIP, **inputs}
    return run_action(ACTION_DIR, given, workdir=checkout, env=environ, github=context)
