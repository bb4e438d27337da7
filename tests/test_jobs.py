"""A RunPod job that ended while ComfyUI was still working on its prompt (diagnose/jobs.py, handler-error).

The fixture is the end of the shared corpus's 048 (tests/fixtures/README.md): a custom handler's status
poll hit its own 10 s read timeout while ComfyUI loaded the model, and runpod-python printed ``Finished.``.
The variants change one line of it to the other situations the rule must tell apart.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from comfylog.api import analyze, analyze_text
from comfylog.model import Finding, Report

from .cli import run_cli
from .conftest import FIXTURES, corpus_log

FIXTURE = FIXTURES / "runpod-handler-read-timeout.log"
GOT_PROMPT, TIMEOUT, FINISHED = 35, 47, 48
TITLE = "The RunPod job ended while ComfyUI was still working on its prompt"
#: urllib3's message when nothing listens on the port (tests/fixtures/upstream-messages.txt).
REFUSED = ("HTTPConnectionPool(host='127.0.0.1', port=3001): Max retries exceeded with url: /history/6034211e "
           "(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a2c1b5d90>: Failed to "
           "establish a new connection: [Errno 111] Connection refused'))")


def fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


def stamp(line: int) -> str:
    """The docker stamp of a fixture line (1-based), with its space."""
    return fixture_lines()[line - 1].split(" ", 1)[0] + " "


def by_id(report: Report) -> dict[str, Finding]:
    return {f.id: f for f in report.findings}


@cache
def fixture_report() -> Report:
    return analyze(FIXTURE)


def test_a_job_ended_under_a_busy_comfyui_is_the_handlers_doing_not_a_death() -> None:
    lines = fixture_lines()
    assert "got prompt" in lines[GOT_PROMPT - 1] and "Finished." in lines[FINISHED - 1]
    assert "Read timed out. (read timeout=10)" in lines[TIMEOUT - 1]
    found = by_id(fixture_report())
    assert "unfinished" not in found and "oom-suspected" not in found
    gave_up = found["handler-error"]
    assert gave_up.title == TITLE and gave_up.confidence == "high" and gave_up.severity == "error"
    assert {e.line for e in gave_up.evidence} >= {GOT_PROMPT, TIMEOUT, FINISHED}
    assert "127.0.0.1:3001" in gave_up.why and "timed out after 10 s" in gave_up.why
    assert "dmesg" not in " ".join([gave_up.why, *gave_up.advice])
    assert any("longer timeout" in a for a in gave_up.advice)


def test_check_fails_the_handler_not_unfinished() -> None:
    result = run_cli("check", str(FIXTURE), "--format", "json", text=True)
    assert result.returncode == 1
    outcomes = {o["rule"]: o for o in json.loads(result.stdout)["logs"][0]["outcomes"]}
    assert outcomes["handler-error"]["status"] == "fail" and outcomes["handler-error"]["title"] == TITLE
    assert outcomes["unfinished"]["status"] == "pass"


def test_a_handler_that_found_nothing_listening_leaves_the_prompt_to_unfinished() -> None:
    """Connection refused: ComfyUI's server was gone before the job ended, so it may well have died."""
    lines = fixture_lines()
    lines[TIMEOUT - 1] = stamp(TIMEOUT) + "Failed to check workflow status: " + REFUSED
    found = by_id(analyze_text("\n".join(lines) + "\n"))
    assert "handler-error" not in found
    assert "unfinished" in found


def test_a_prompt_comfyui_finished_after_its_job_ended_was_abandoned_too() -> None:
    lines = fixture_lines()
    del lines[TIMEOUT - 1]  # the handler said nothing the table knows: the order of the lines alone tells it
    lines.append("2025-08-04T22:23:31.102938475Z Prompt executed in 35.03 seconds")
    gave_up = by_id(analyze_text("\n".join(lines) + "\n"))["handler-error"]
    assert gave_up.title == TITLE and gave_up.confidence == "high"
    assert "finished that prompt only 15.4s later" in gave_up.why
    assert any("make it wait for the prompt's end" in a for a in gave_up.advice)


def test_a_prompt_that_ended_before_runpod_said_finished_is_no_finding() -> None:
    lines = fixture_lines()
    lines.insert(FINISHED - 1, "2025-08-04T22:23:15.70000000Z Prompt executed in 19.43 seconds")
    found = by_id(analyze_text("\n".join(lines) + "\n"))
    assert "handler-error" not in found and "unfinished" not in found


def test_with_another_job_still_in_progress_the_prompt_may_be_that_jobs() -> None:
    lines = fixture_lines()
    started = next(i for i, line in enumerate(lines) if '"message": "Started."' in line)
    lines.insert(started, lines[started].replace("ac971276", "0b1d2e3f"))  # a second job, running concurrently
    found = by_id(analyze_text("\n".join(lines) + "\n"))
    assert "handler-error" not in found
    assert "unfinished" in found


@pytest.mark.parametrize("number", ["042", "044", "045", "047"])
def test_jobs_that_ended_after_their_prompt_or_after_a_crash_are_no_finding(number: str) -> None:
    """042/044/047: `Finished.` after the prompt's end; 045: ComfyUI aborted (a crash) before the job ended."""
    report = analyze(corpus_log(number))
    assert not any(f.id == "handler-error" and f.title == TITLE for f in report.findings)


def test_on_the_whole_corpus_log() -> None:
    found = by_id(analyze(corpus_log("048")))
    assert found["handler-error"].title == TITLE
    assert "unfinished" not in found


def test_a_request_elsewhere_that_timed_out_says_nothing_of_comfyui() -> None:
    """A node's download from Hugging Face timing out is no word of the handler's about ComfyUI."""
    lines = fixture_lines()
    lines[TIMEOUT - 1] = lines[TIMEOUT - 1].replace("HTTPConnectionPool(host='127.0.0.1', port=3001)",
                                                    "HTTPSConnectionPool(host='huggingface.co', port=443)")
    gave_up = by_id(analyze_text("\n".join(lines) + "\n"))["handler-error"]
    assert gave_up.title == TITLE and gave_up.confidence == "medium"
    assert "huggingface.co" not in gave_up.why and TIMEOUT not in {e.line for e in gave_up.evidence}
