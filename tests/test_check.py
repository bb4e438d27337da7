"""`comfylog check` for CI, through the real command line: rules, config files, exit codes, every format."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from comfylog.api import analyze_text
from comfylog.check import CheckOptions, check_reports
from comfylog.render.ci import escape_data, escape_property, render_check_junit
from comfylog.version import __version__

from .cli import Result, run_cli
from .conftest import EXAMPLES, FIXTURES, corpus_or_skip

LOWVRAM = EXAMPLES / "runpod-lowvram-gguf.log"
BASELINE = EXAMPLES / "local-baseline.log"
OOM = EXAMPLES / "runpod-oom-restart.log"
#: A workflow command: ``::error`` or ``::warning``, properties with no raw ``:`` or ``,``, a one-line message.
COMMAND_RE = re.compile(r"^::(error|warning) (file=[^,:\n]+,(line=\d+,)?)?title=[^,:\n]+::[^\r\n]*$")


def check(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """``comfylog check ARGS`` in ``cwd`` (where config files are looked for), as text."""
    return run_cli("check", *args, cwd=cwd, stdin=stdin, env=env, text=True, columns=120)


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """A directory with the three example logs and no config file."""
    for log in (LOWVRAM, BASELINE, OOM):
        shutil.copy(log, tmp_path / log.name)
    return tmp_path


def test_exit_codes_for_rules_that_pass_and_fail(work: Path) -> None:
    assert check(BASELINE.name, cwd=work).returncode == 0
    assert check(LOWVRAM.name, cwd=work).returncode == 0  # its findings only warn by default
    died = check(OOM.name, cwd=work)
    assert died.returncode == 1 and "oom-suspected" in died.stdout and "FAILED" in died.stdout
    assert check(OOM.name, "--fail-on", "none", cwd=work).returncode == 0
    assert check(LOWVRAM.name, "--max-total", "600", cwd=work).returncode == 1  # 650 s
    assert check(LOWVRAM.name, "--max-total", "700", "--max-load", "400", "--max-wait", "60", cwd=work).returncode == 0
    assert check(LOWVRAM.name, "--max-load", "300", cwd=work).returncode == 1  # 364 s of loading
    assert check(LOWVRAM.name, "--max-wait", "45", cwd=work).returncode == 1  # 51 s of waiting
    assert check(LOWVRAM.name, "--max-slowdown", "2", "--baseline", BASELINE.name, cwd=work).returncode == 1
    assert check(LOWVRAM.name, "--max-slowdown", "8", "--baseline", BASELINE.name, cwd=work).returncode == 0
    assert check(LOWVRAM.name, "--fail-on", "lowvram,gguf", cwd=work).returncode == 1
    both = check(LOWVRAM.name, OOM.name, "--fail-on", "lowvram", "--fail-on", "debug-logging", "-f", "json", cwd=work)
    statuses = [{o["rule"]: o["status"] for o in log["outcomes"]} for log in json.loads(both.stdout)["logs"]]
    assert both.returncode == 1
    assert statuses[0] == {"lowvram": "fail", "debug-logging": "fail", "ws-wait": "warn", "slow-load": "warn"}
    assert statuses[1] == {"lowvram": "pass", "debug-logging": "pass", "oom-suspected": "warn"}


def test_warn_on_demotes_a_default_failure() -> None:
    corpus = corpus_or_skip()
    stopped = next((corpus / "logs").glob("021-*.log"))  # its last prompt was running when the server stopped
    assert check(str(stopped), cwd=corpus).returncode == 1
    demoted = check(str(stopped), "--warn-on", "unfinished", "-f", "json", cwd=corpus)
    assert demoted.returncode == 0
    outcomes = {o["rule"]: o["status"] for o in json.loads(demoted.stdout)["logs"][0]["outcomes"]}
    assert outcomes["unfinished"] == "warn" and "reload-thrash" not in outcomes  # info findings do not warn


@pytest.mark.parametrize("args", [
    ("--fail-on", "oom,not-a-rule"),
    ("--warn-on", "lowvram", "--fail-on", "lowvram"),
    ("--max-slowdown", "2"),
    ("--max-total", "-5"),
    ("--config", "missing.toml"),
])
def test_unusable_options_exit_2_with_one_line(work: Path, args: tuple[str, ...]) -> None:
    done = check(LOWVRAM.name, *args, cwd=work)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("comfylog: error:") and done.stderr.count("\n") == 1 and done.stdout == ""


def test_missing_log_exits_2(work: Path) -> None:
    done = check("nope.log", cwd=work)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nope.log" in done.stderr


def test_comfylog_toml_and_pyproject_settings(work: Path) -> None:
    (work / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.comfylog]\nmax-total = 600\n', "utf-8")
    assert check(LOWVRAM.name, cwd=work).returncode == 1
    assert check(LOWVRAM.name, "--max-total", "700", cwd=work).returncode == 0  # the command line wins
    sub = work / "ci"
    sub.mkdir()
    (sub / "comfylog.toml").write_text(
        'max_slowdown = 2\nbaseline = "../local-baseline.log"\nfail_on = ["oom"]\nwarn_on = ["unfinished"]\n', "utf-8")
    done = check(f"../{LOWVRAM.name}", "-f", "json", cwd=sub)  # comfylog.toml wins over pyproject.toml
    data = json.loads(done.stdout)
    assert done.returncode == 1 and data["options"]["max_total"] is None
    assert data["options"]["baseline"].endswith("local-baseline.log") and data["options"]["fail_on"] == ["oom"]
    slowdown = next(o for o in data["logs"][0]["outcomes"] if o["rule"] == "max-slowdown")
    assert slowdown["status"] == "fail" and slowdown["value"] == pytest.approx(7.19, abs=0.01)
    (sub / "comfylog.toml").write_text("max_total = [\n", "utf-8")
    broken = check(f"../{LOWVRAM.name}", cwd=sub)
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr
    (sub / "comfylog.toml").write_text("max_totl = 5\n", "utf-8")
    typo = check(f"../{LOWVRAM.name}", cwd=sub)
    assert typo.returncode == 2 and "unknown setting 'max_totl'" in typo.stderr
    (sub / "comfylog.toml").write_text('max_total = "ten"\n', "utf-8")
    assert check(f"../{LOWVRAM.name}", cwd=sub).returncode == 2


def test_github_format_workflow_commands_and_job_summary(work: Path) -> None:
    summary = work / "summary.md"
    summary.write_text("earlier step\n", "utf-8")
    done = check(LOWVRAM.name, OOM.name, "--max-total", "600", "-f", "github", cwd=work,
                 env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert done.returncode == 1
    commands = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert commands and all(COMMAND_RE.match(line) for line in commands), commands
    starts = [
        "::error file=runpod-lowvram-gguf.log,line=42,title=comfylog max-total%3A",
        "::error file=runpod-oom-restart.log,line=44,title=comfylog oom-suspected%3A",
        "::warning file=runpod-lowvram-gguf.log,line=58,title=comfylog lowvram%3A",
    ]
    assert all(any(c.startswith(start) for c in commands) for start in starts), commands
    assert "(56%25)" in done.stdout and "%0A→ " in done.stdout  # data escaped: percent and newlines
    text = summary.read_text("utf-8")
    assert text.startswith("earlier step\n### comfylog check: ❌ failed")
    assert "| runpod-oom-restart.log | `oom-suspected` | ❌ fail | 44 |" in text


def test_github_format_on_a_pasted_issue_body_from_stdin(work: Path) -> None:
    body = "The pod restarts:\n\n```\n" + OOM.read_text("utf-8") + "```\n"
    done = check("-", "-f", "github", cwd=work, stdin=body)
    assert done.returncode == 1
    commands = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert commands[0].startswith("::error title=comfylog no-success%3A none of 1 prompts")  # no file for stdin
    assert commands[1].startswith("::error title=comfylog oom-suspected%3A Silent crash")


def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("C:\\logs\\a,b.log 100%") == "C%3A\\logs\\a%2Cb.log 100%25"


def test_junit_is_valid_xml_with_one_testcase_per_rule(work: Path) -> None:
    out = work / "comfylog.xml"
    done = check(LOWVRAM.name, OOM.name, "--max-total", "600", "-f", "junit", "-o", str(out), cwd=work)
    assert done.returncode == 1
    root = ET.parse(out).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [LOWVRAM.name, OOM.name]
    lowvram = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert list(lowvram) == ["max-total", "startup-failed", "no-success", "oom", "oom-suspected", "restart-loop",
                             "unfinished", "staging-overcommit", "container-ram", "comfyui-died", "handler-error",
                             "output-dropped", "gpu-unsupported", "worker-unhealthy", "prompt-worker-died",
                             "gpu-fault", "desktop-exited", "comfyui-killed", "result-not-returned", "crash",
                             "args-refused", "lowvram", "ws-wait", "slow-load"]
    assert lowvram["max-total"].find("failure") is not None and lowvram["oom"].find("failure") is None
    assert "warning:" in (lowvram["lowvram"].findtext("system-out") or "")
    assert root.get("failures") == "3" and root.get("tests") == str(sum(1 for _ in root.iter("testcase")))


def test_junit_escapes_hostile_log_text() -> None:
    log = ("got prompt\n!!! Exception during processing !!! bad <tag attr=\"x\"> & ]]> \x0b\x01 end\n"
           "Prompt executed in 1.50 seconds\n")
    report = analyze_text(log, name="hostile.log")
    result = check_reports([("hostile.log", report)], CheckOptions(fail_on=("exception",)))
    assert result.exit_code == 1
    root = ET.fromstring(render_check_junit(result))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and "bad <tag attr=\"x\"> & ]]>" in (failure.text or "")


def test_json_and_text_formats(work: Path) -> None:
    done = check(OOM.name, BASELINE.name, "-f", "json", cwd=work)
    data = json.loads(done.stdout)
    assert done.returncode == 1 and data["passed"] is False and data["exit_code"] == 1
    first, second = data["logs"]
    assert first["passed"] is False and second["passed"] is True
    assert {f["id"] for f in first["findings"]} == {"oom-suspected"}
    assert next(o for o in first["outcomes"] if o["rule"] == "oom-suspected")["line"] == 44
    text = check(OOM.name, cwd=work)
    assert "oom-suspected" in text.stdout and "FAILED: 2 rules" in text.stdout


def test_the_action_runs_check_as_documented(work: Path) -> None:
    yaml = pytest.importorskip("yaml")
    root = Path(__file__).resolve().parents[1]
    action = yaml.safe_load((root / "action.yml").read_text("utf-8"))
    assert action["runs"]["using"] == "composite" and action["inputs"]["logs"]["required"] is True
    step = action["runs"]["steps"][-1]
    assert "${{" not in step["run"]  # inputs arrive as environment variables, never as script text
    outputs = work / "github-output"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "COMMAND": "check", "LOGS": "runpod-*.log", "ARGS": "--max-total 600", "FORMAT": "github", "OUTPUT": "",
           "ALLOW_NON_LOG": "false", "RUNNER_TEMP": str(work), "GITHUB_OUTPUT": str(outputs)}
    done = subprocess.run(["bash", "-c", step["run"]], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert outputs.read_text("utf-8").split() == ["exit-code=1", "log-found=true"]
    commands = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert commands and all(COMMAND_RE.match(line) for line in commands)
    assert {c.split(",")[0] for c in commands} == {"::error file=runpod-lowvram-gguf.log",
                                                   "::warning file=runpod-lowvram-gguf.log",
                                                   "::error file=runpod-oom-restart.log"}
    workflow = yaml.safe_load((root / "examples" / "github-workflow.yml").read_text("utf-8"))
    uses = [s for s in workflow["jobs"]["render"]["steps"] if "comfylog" in str(s.get("uses", ""))]
    assert uses and set(uses[0]["with"]) <= set(action["inputs"])


@pytest.mark.parametrize("command", ["check", "analyze"])
def test_input_that_is_not_a_comfyui_log_is_refused_in_one_line(command: str) -> None:
    done = run_cli(command, "-", stdin="hello\n", text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("comfylog: error: <stdin>: not a ComfyUI log (no ComfyUI, ComfyUI-Manager, worker-comfyui "
                           "or RunPod line in its 1 line)\n")


def test_a_log_whose_comfyui_never_started_or_whose_prompts_all_failed_fails_by_default() -> None:
    never = run_cli("check", str(FIXTURES / "torch-missing-macos.log"), "-f", "json", text=True)
    assert never.returncode == 1
    failed = {o["rule"] for o in json.loads(never.stdout)["logs"][0]["outcomes"] if o["status"] == "fail"}
    assert failed == {"startup-failed"}
    corpus = corpus_or_skip()
    every_prompt_failed = next((corpus / "logs").glob("033-*.log"))  # its one prompt ran out of memory
    done = run_cli("check", str(every_prompt_failed), "--warn-on", "oom", "-f", "json", text=True)
    outcome = next(o for o in json.loads(done.stdout)["logs"][0]["outcomes"] if o["rule"] == "no-success")
    assert done.returncode == 1 and outcome["status"] == "fail" and outcome["message"] == (
        "none of the log's 1 prompts succeeded (1 error)")


def test_help_lists_the_ids_and_the_version_is_one_line() -> None:
    help_text = run_cli("check", "--help", text=True, columns=400).stdout
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", help_text).split())  # the panel's lines as one text: rich wraps the ids
    assert "Ids: no-success, lowvram, lowvram-forced" in words and "debug-logging. Default: startup-failed" in words
    version = str(run_cli("--version", text=True).stdout)
    assert version.startswith(f"comfylog {__version__} (scanner ") and version.count("\n") == 1


def test_the_job_summary_lists_failures_and_warnings_cut_at_a_word(work: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    check(BASELINE.name, LOWVRAM.name, OOM.name, "-f", "github", cwd=work, env={"GITHUB_STEP_SUMMARY": str(summary)})
    rows = [r for r in summary.read_text(encoding="utf-8").splitlines() if r.startswith(f"| {BASELINE.name}")
            or r.startswith(f"| {LOWVRAM.name}") or r.startswith(f"| {OOM.name}")]
    assert rows[0] == f"| {BASELINE.name} | all 20 rules | ✅ pass | | |"  # one row for a log that passed
    assert not any("✅ pass" in r for r in rows[1:])
    assert [r.split(" | ")[1] for r in rows if r.startswith(f"| {OOM.name}")] == ["`no-success`", "`oom-suspected`"]
    details = [r.rsplit(" | ", 1)[1][: -len(" |")] for r in rows[1:]]
    for detail in details:
        assert len(detail) <= 300 and (not detail.endswith("…") or detail[-2].isalnum() or detail[-2] in ")`'")
    assert any(d.endswith("…") for d in details)
