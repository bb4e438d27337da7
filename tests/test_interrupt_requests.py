"""Who interrupted a prompt: ComfyUI's server logs each request to stop one (server.py's ``post_interrupt``: POST
/interrupt, sent by the UI's cancel button, a script or another client). A person whose prompt stopped asks "I did not
cancel" (field3 01, Comfy-Org/ComfyUI#6489, a build that logged no request); where the log holds the request, the
prompt table says so and cites it, and where it holds none, nothing is said."""

from __future__ import annotations

import io
import json

from rich.console import Console

from comfylog.api import analyze, analyze_text
from comfylog.events import EventKind
from comfylog.index import index_of
from comfylog.model import Report
from comfylog.render.html import render_html
from comfylog.render.json import render_json
from comfylog.render.markdown import render_markdown
from comfylog.render.terminal import render_terminal

from .conftest import FIXTURES, corpus_log

#: j955229/ComfyUI-MiniMax-H3-Motion-Director#33 (field3 02): three `Interrupting prompt <id>` lines (5, glued after
#: the bar's 6/8 state; 8; 9), then `Processing interrupted` (11) and `Prompt executed in 217.73 seconds` (12).
TARGETED = FIXTURES / "two-prompts-queued-before-log-interrupted.log"


def _terminal(report: Report) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console)
    return " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]  # notes wrap


def test_the_request_that_interrupted_a_prompt_is_said_with_its_line(each_segmenter: str) -> None:
    report = analyze(TARGETED)
    second = report.prompts[1]
    assert second.status == "interrupted"
    requests = index_of(report).interrupt_requests(second)
    assert [(ev.line, ev.fields["prompt_id"]) for ev in requests] == [
        (line, "fdb8b2f6-2e10-408d-b685-2121d2e53ae7") for line in (5, 8, 9)]
    note = ("interrupted (2): a request to stop it reached the server (line 5, `Interrupting prompt …`, 3 requests in "
            "all): ComfyUI's /interrupt API, sent by the UI's cancel button, a script or another client")
    assert note in _terminal(report)
    assert note in render_markdown(report)
    assert note.replace("'", "&#x27;") in render_html(report)
    # the prompt that ended before the requests is not said to have been stopped by them
    assert index_of(report).interrupt_requests(report.prompts[0]) == []


def test_a_global_interrupt_is_said_to_stop_whichever_prompt_runs(each_segmenter: str) -> None:
    """The same excerpt with its `Interrupting prompt <id>` lines written as server.py's global form (`Global
    interrupt (no prompt_id specified)`, a request with no prompt id: an edit of the real log, no real log at hand
    holds one): that request stops whatever runs, which is why another client's can stop someone's prompt."""
    text = TARGETED.read_text(encoding="utf-8").replace(
        "Interrupting prompt fdb8b2f6-2e10-408d-b685-2121d2e53ae7", "Global interrupt (no prompt_id specified)")
    report = analyze_text(text)
    assert "interrupted (2): a request to stop it reached the server (line 5, `Global interrupt (no prompt_id " \
           "specified)`, 3 requests in all): ComfyUI's /interrupt API with no prompt id, which stops whichever " \
           "prompt runs" in _terminal(report)


def test_a_request_for_a_prompt_not_running_stopped_nothing(each_segmenter: str) -> None:
    """server.py's `Prompt <id> is not currently running, skipping interrupt` (the excerpt's requests written so):
    the request named another prompt and nothing stopped, so it is no answer to who stopped this one."""
    text = TARGETED.read_text(encoding="utf-8").replace(
        "Interrupting prompt fdb8b2f6-2e10-408d-b685-2121d2e53ae7",
        "Prompt fdb8b2f6-2e10-408d-b685-2121d2e53ae7 is not currently running, skipping interrupt")
    report = analyze_text(text)
    assert [ev.fields["stops"] for ev in index_of(report).events[EventKind.INTERRUPT_REQUEST]] == [False] * 3
    assert "a request to stop it" not in _terminal(report)


def test_no_request_in_the_log_says_nothing_new(each_segmenter: str) -> None:
    """ethanfel/ComfyUI-MiniMaxH3-Context-Loop#15 (field3 03): `Processing interrupted` with no request line before
    it (as field3 01's 2025 build logged none): the interruption is shown as before, and nobody is named."""
    report = analyze(FIXTURES / "interrupted-before-log-then-got-prompt.log")
    assert report.prompts[0].status == "interrupted"
    shown = _terminal(report)
    assert "interrupted" in shown and "a request to stop it" not in shown
    assert "a request to stop it" not in render_markdown(report)


def test_the_requests_are_a_json_table_with_the_prompt_they_stopped(each_segmenter: str) -> None:
    """The JSON had no word of the requests the notes cite: `interrupt_requests` lists each (line, the row that read
    it, the id it names) with the prompt it stopped; a log without one has no such key (its JSON as it was)."""
    rows = json.loads(render_json(analyze(TARGETED)))["interrupt_requests"]
    assert rows == [{"source": 0, "line": line, "request": "interrupt_prompt",
                     "prompt_id": "fdb8b2f6-2e10-408d-b685-2121d2e53ae7", "prompt": 1} for line in (5, 8, 9)]
    text = TARGETED.read_text(encoding="utf-8").replace(
        "Interrupting prompt fdb8b2f6-2e10-408d-b685-2121d2e53ae7",
        "Prompt fdb8b2f6-2e10-408d-b685-2121d2e53ae7 is not currently running, skipping interrupt")
    skipped = json.loads(render_json(analyze_text(text)))["interrupt_requests"]
    assert [(row["request"], row["prompt"]) for row in skipped] == [("interrupt_skipped", None)] * 3
    assert "interrupt_requests" not in json.loads(render_json(analyze(FIXTURES /
                                                                      "interrupted-before-log-then-got-prompt.log")))


def test_a_cancel_of_a_pending_prompt_explains_a_dropped_prompt(each_segmenter: str) -> None:
    """Corpus 019: prompts 2 and 3 were received at 23:15:43 (lines 105, 106) and never ran ("dropped": no log line
    said why). ComfyUI's jobs API logs `Cancelling pending prompt <id>` when it removes a queued job (server.py
    _cancel_job_by_id); with that line put after them (as server.py prints it: no real log at hand holds one), the
    dropped prompts' note says a cancel reached the server while they waited, and the JSON lists it, with no prompt
    (two dropped prompts, and the log names neither's id)."""
    lines = corpus_log("019").read_text(encoding="utf-8").splitlines(keepends=True)
    assert "got prompt" in lines[105] and "23:20:06.782" in lines[106]
    cancel = "[2026-02-21 23:16:02.104] Cancelling pending prompt 7a3e9c41-52d8-4f0b-9e6a-c1b2d3e4f5a6\n"
    report = analyze_text("".join(lines[:106]) + cancel + "".join(lines[106:]))
    assert [p.status for p in report.prompts[1:3]] == ["dropped", "dropped"]
    note = ("dropped (2): a request to cancel a queued prompt reached the server while it waited (line 107, "
            "`Cancelling pending prompt …`): ComfyUI's jobs API")
    assert note in _terminal(report) and note in render_markdown(report)
    assert "dropped (3): a request to cancel" in _terminal(report)
    (row,) = json.loads(render_json(report))["interrupt_requests"]
    assert row == {"source": 0, "line": 107, "request": "cancel_pending",
                   "prompt_id": "7a3e9c41-52d8-4f0b-9e6a-c1b2d3e4f5a6", "prompt": None}
    # without it, nothing is said of a cancel
    assert "a request to cancel" not in _terminal(analyze(corpus_log("019")))
