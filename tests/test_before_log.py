"""A log that starts inside a prompt: most logs people paste into an issue do (a console's last screen, a
tail). The work the log shows before the prompt's `Prompt executed` (or before the log ends) is that
prompt's, whose `got prompt` is before the log's first line: both segmenters give it to that prompt
rather than to no prompt, and say what the log cannot time (what the prompt did before the first line).
"""

from __future__ import annotations

import io
import json

from rich.console import Console

from comfylog.api import analyze, analyze_text
from comfylog.index import index_of
from comfylog.model import Prompt, Report
from comfylog.render.html import render_html
from comfylog.render.json import render_json
from comfylog.render.markdown import render_markdown
from comfylog.render.terminal import render_terminal

from .conftest import FIXTURES, corpus_log, corpus_or_skip


def _before_log(report: Report) -> Prompt:
    (first,) = [p for p in report.prompts if not p.received]
    return first


def test_a_prompt_the_log_starts_inside_keeps_its_sampling_and_decoding(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#14475 (tests/fixtures/wanwrapper-mid-prompt-hms.log, no stamps): WanVideoWrapper's
    4-step bar of 16:13 (line 9) and `WanVAE decoding frames` (line 13), then `Prompt executed in 00:37:59`
    (line 14). The prompt used to be 37:59 of `other`; the next prompt's T5 bars after line 14 are not its:
    they are the next queued prompt's (no `got prompt` in the log: it was queued before it too), unfinished."""
    report = analyze(FIXTURES / "wanwrapper-mid-prompt-hms.log")
    first, after = report.prompts
    assert not first.received and not after.received and after.status == "unfinished"
    assert first.executed_s == 2279.0 and first.status == "ok" and first.estimated
    bars = [b for b in report.progress_bars if b.prompt == first.index]
    assert [b.line for b in bars] == [9, 13]
    sampling = [b for b in bars if b.is_sampling]
    assert first.phases is not None and first.phases.inference == sum(b.elapsed_s for b in sampling) > 900
    # what it did before line 1 is not in the log: its load (and so the rest) is not timed, never 0.0
    assert first.phases.load is None and first.phases.other is None
    assert first.not_timed == {"load": "before_log", "other": "before_log"}
    assert first.video is not None and first.video["frames"] == 85
    assert all(b.prompt != first.index for b in report.progress_bars if b.line > 14)
    assert [b.prompt for b in report.progress_bars if b.label == "T5Encoder"] == [after.index]
    # it began after line 14, inside the log: nothing of it is said to be before the log's first line
    assert after.not_timed is not None and "before_log" not in after.not_timed.values()


def test_a_timed_prompt_the_log_starts_inside_paints_only_what_the_log_shows(each_segmenter: str) -> None:
    """tests/fixtures/error-report-pasted-bars.log (an error report's stamps): the first prompt's sampling
    bars come before its `Prompt executed`; they are its inference. The seconds from its start (the line's
    time less its total) to the log's first line are not painted as the first line's phase."""
    report = analyze(FIXTURES / "error-report-pasted-bars.log")
    first = _before_log(report)
    assert first.phases is not None and not first.estimated
    assert first.phases.inference is not None and first.phases.inference > 40
    assert first.phases.load is None and first.not_timed is not None and first.not_timed["load"] == "before_log"
    loads = [ld for ld in report.loads if ld.line < first.last_line]
    assert loads and all(ld.prompt == first.index for ld in loads)


def test_work_with_no_prompt_line_at_all_is_an_unfinished_prompt_begun_before_the_log(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#12943 (tests/fixtures/dynamic-vram-no-prompt-lines.log): Wan 2.1 dynamic VRAM loads
    and 3-step bars, no `got prompt`, no `Prompt executed`, no stamps. The report used to be a bare run
    header; the work is now a prompt's, unfinished where the log ends, its sampling from its bars."""
    report = analyze(FIXTURES / "dynamic-vram-no-prompt-lines.log")
    (first,) = report.prompts
    assert not first.received and first.status == "unfinished" and first.line == 1
    assert {ld.prompt for ld in report.loads} == {first.index} and len(report.loads) >= 5
    assert {b.prompt for b in report.progress_bars} == {first.index}
    assert "WAN21" in first.models and "WanTEModel" in first.models
    assert first.phases is not None and first.phases.inference is not None and first.phases.inference > 0
    assert first.phases.load is None  # no clock: loads untimed, never 0.0
    (unfinished,) = [f for f in report.findings if f.id == "unfinished"]
    # an excerpt: that it "never finished" is not in it
    assert unfinished.title == "The log ends inside the prompt it starts inside"
    assert "began before the log's first line" in unfinished.why and "an excerpt" in unfinished.why
    assert unfinished.evidence[0].line == 1


def test_a_prompt_received_while_the_one_the_log_starts_inside_runs_waits_for_it(each_segmenter: str) -> None:
    """The paste of city96/ComfyUI-GGUF#427 with a `got prompt` put before its `Prompt executed in 164.28
    seconds` (a prompt queued from the browser while the first one runs): that line ends the prompt the log
    starts inside, and the queued prompt starts then, with the loads after it."""
    lines = (FIXTURES / "gguf-dynamic-vram-mid-prompt.log").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Prompt executed in"))
    report = analyze_text("\n".join([*lines[:at], "got prompt", *lines[at:]]) + "\n")
    first, queued = report.prompts
    assert not first.received and first.executed_s == 164.28 and first.status == "ok"
    assert queued.received and queued.status == "unfinished" and queued.started
    assert {ld.prompt for ld in report.loads if ld.line <= at} == {first.index}
    assert {ld.prompt for ld in report.loads if ld.line > at + 2} == {queued.index}


def test_work_after_a_start_up_with_no_prompt_line_opens_no_prompt(each_segmenter: str) -> None:
    """A log with its start-up: loads before any `got prompt` are no earlier prompt's (the lines of a
    start-up, or work a script drives): no prompt is made for them."""
    text = (FIXTURES / "gguf-dynamic-vram-mid-prompt.log").read_text(encoding="utf-8")
    report = analyze_text("Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n" + text)
    assert all(p.line > 3 for p in report.prompts)
    assert all(ld.prompt is None for ld in report.loads[:2])


def test_bars_with_no_stamp_of_their_own_are_placed_by_the_lines_around_them(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#12762 (tests/fixtures/rocm-wan-unstamped-bars.log): every line is stamped but the two
    sampling bars (lines 9 and 14, 295.83 s and 297.09 s), each after a stamped empty line. The gap to the
    next stamp is too short to hold them, so that empty line's stamp is their end: the first runs from the
    WAN21 load's end (13:04:15) to 13:09:11. They used to be unplaced: 0.0 s of inference in 25 minutes."""
    report = analyze(FIXTURES / "rocm-wan-unstamped-bars.log")
    (prompt,) = report.prompts
    first, second = report.progress_bars
    assert first.start is not None and first.end is not None and second.end is not None
    assert first.end.isoformat() == "2026-03-03T13:09:11.206000"
    assert second.end.isoformat() == "2026-03-03T13:16:51.171000"
    assert first.start.isoformat().startswith("2026-03-03T13:04:15")
    assert prompt.phases is not None and prompt.phases.inference == round(first.elapsed_s + second.elapsed_s, 3)


def test_a_prompt_the_log_starts_inside_with_no_bar_in_it_may_have_sampled_before(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#16062 (tests/fixtures/dynamic-vram-vae-stall-mid-prompt.log): the log starts at a
    prompt's VAE load and its `Prompt executed in 54.64 seconds`. It drew no sampling bar in the log, but it
    may have before: its inference is not timed for that reason, not "it drew no sampling bar"."""
    report = analyze(FIXTURES / "dynamic-vram-vae-stall-mid-prompt.log")
    first, second = report.prompts
    assert not first.received and first.executed_s == 54.64
    assert first.not_timed is not None and first.not_timed["inference"] == "before_log"
    assert second.received and second.phases is not None and second.phases.inference == 17.143  # 30 steps at 1.75 it/s


def test_an_oom_before_the_first_prompt_line_fails_the_prompt_the_log_starts_inside(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#8687 (tests/fixtures/oom-before-log-then-flux-oom.log): the log's first line is
    `Got an OOM, unloading all loaded models.`, which execution.py prints only for the prompt it runs, then
    that prompt's `Prompt executed in 29.79 seconds` (printed after failures too). It failed; it used to
    be "ok", and its OOM in no prompt."""
    report = analyze(FIXTURES / "oom-before-log-then-flux-oom.log")
    first = _before_log(report)
    assert first.status == "error" and first.executed_s == 29.79
    oom = next(e for e in report.errors if e.line == 2)
    assert oom.kind == "oom" and oom.prompt == first.index
    assert [p.status for p in report.prompts] == ["error", "error"]


def test_the_idle_time_counts_a_prompt_begun_before_the_log_from_the_log_s_first_line(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#13976 (tests/fixtures/error-report-day-gap-mid-prompt.log): the first prompt's
    `Prompt executed in 111.18 seconds` (line 2) began 101 s before the log's first line. Only its 10.2 s
    in the log are work in the log's span: the idle time is the span less them and the other prompts."""
    report = analyze(FIXTURES / "error-report-day-gap-mid-prompt.log")
    (run,) = report.runs
    first = _before_log(report)
    assert run.started_at is not None and first.ended_at is not None and run.span_s is not None
    assert first.started_at is not None and first.started_at < run.started_at
    in_log = (first.ended_at - run.started_at).total_seconds()
    others = sum(p.total_s or 0.0 for p in report.prompts if p.received)
    assert run.idle_s is not None and abs(run.idle_s - (run.span_s - in_log - others)) < 0.01
    assert run.idle_s > 21 * 3600 + 18 * 60


def test_a_log_that_ends_in_a_bar_with_no_stamp_lasts_until_that_bar_ends(each_segmenter: str) -> None:
    """mmartial/ComfyUI-Nvidia-Docker#56 (tests/fixtures/docker-stamps-unstamped-bar-at-end.log): docker
    stamps up to a stamped empty line (15:16:06), then tqdm's redraws to 20/30 at 1.22 it/s with none. The
    bar ran 16.4 s after that line: the run and its unfinished prompt last until then, and the bar is the
    prompt's inference (it was 0.0 s beside "20/30 1.22it/s")."""
    report = analyze(FIXTURES / "docker-stamps-unstamped-bar-at-end.log")
    (run,) = report.runs
    (prompt,) = report.prompts
    (bar,) = report.progress_bars
    assert prompt.status == "unfinished" and bar.done == 20
    assert run.ended_at is not None and bar.end == run.ended_at == prompt.ended_at
    assert prompt.phases is not None and prompt.phases.inference == bar.elapsed_s > 16


def test_a_log_cut_inside_a_prompt_keeps_what_the_full_log_says_of_it(each_segmenter: str) -> None:
    """The RunPod lowvram scenario and corpus 015 (HunyuanVideo on an A800), cut a few lines after a prompt's
    `got prompt`, as a console's last screen or a tail would: the prompt the cut log starts inside has the
    full log's total and sampling, and the cut log as many prompts as the full one."""
    for path in (corpus_or_skip() / "scenarios" / "runpod-wan-lowvram-gguf.log", corpus_log("015")):
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
        got = next(i for i, line in enumerate(lines) if "got prompt" in line)
        full, cut = analyze(path), analyze_text("\n".join(lines[got + 5:]) + "\n")
        first = _before_log(cut)
        same = next(p for p in full.prompts if p.executed_s == first.executed_s)
        assert len(cut.prompts) == len(full.prompts)
        assert first.total_s is not None and same.total_s is not None and abs(first.total_s - same.total_s) < 1.5
        assert first.phases is not None and same.phases is not None
        assert first.phases.inference == same.phases.inference


def test_a_traceback_pasted_alone_is_a_failed_prompt_s(each_segmenter: str) -> None:
    """Corpus 049's traceback alone (from `[ERROR] Traceback (most recent call last):` to its RuntimeError), as
    people paste an error into an issue: its outermost frame is ComfyUI's `execution.py` (`execute`), where
    every node's failure in a prompt begins. It is a ComfyUI log (it was refused as none), and its failure a
    prompt's whose `got prompt` is before it (not "no prompt was running")."""
    lines = corpus_log("049").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line)
    report = analyze_text("\n".join(lines[start:]) + "\n")
    first = _before_log(report)
    assert first.status == "error"
    (error,) = report.errors
    assert error.kind == "exception" and error.prompt == first.index and error.line == 1
    (found,) = [f for f in report.findings if f.id == "exception"]
    assert found.title.startswith("1 prompt failed") and "before the log starts" in found.why
    assert "No prompt was running" not in found.why


def test_a_log_that_starts_at_starting_server_does_not_know_its_start_up(each_segmenter: str) -> None:
    """patientx/ComfyUI-Zluda#387 (tests/fixtures/zluda-log-starts-at-starting-server.log): the paste starts at
    `Starting server` (line 1), 1 ms before `To see the GUI go to` (line 3): the start-up happened before the log,
    so its length is not known (None), never the 0.0 s between those lines, and the reports say so."""
    report = analyze(FIXTURES / "zluda-log-starts-at-starting-server.log")
    (run,) = report.runs
    assert run.ready_line == 3 and run.ready_at is not None and run.startup_s is None
    assert run.idle_s == run.span_s == 0.567  # the 0.6 s the log shows after start-up, none of it a prompt's
    said = "not known: the log starts at its end (import times or `Starting server`)"
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render_terminal(report, console)
    assert said in console.file.getvalue()  # type: ignore[attr-defined]
    assert "not known (the log starts at its end)" in render_markdown(report)
    assert "not known (the log starts at its end)" in render_html(report)
    # a start-up the log shows from its beginning keeps its time (the same lines after a Manager header)
    header = "[2025-12-07 15:18:30.100] ** ComfyUI startup time: 2025-12-07 15:18:30.100\n"
    text = (FIXTURES / "zluda-log-starts-at-starting-server.log").read_text(encoding="utf-8")
    (run,) = analyze_text(header + text).runs
    assert run.startup_s == 13.282


def test_an_unfinished_prompt_the_log_starts_inside_shows_its_total_as_at_least(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#12762 (tests/fixtures/rocm-hip-launch-failure-warning.log, field log 01): the excerpt starts
    at the prompt's `Requested to load WanTEModel` (line 2) and ends at PyTorch's HIP warning (line 16) inside it. Its
    25:21 is timed from the log's first line to its last: the part in the log, not the prompt's duration. The
    terminal, markdown and HTML reports say `≥25:21` and why; a prompt that finished keeps its plain total."""
    report = analyze(FIXTURES / "rocm-hip-launch-failure-warning.log")
    first = _before_log(report)
    assert first.status == "unfinished" and first.total_s == 1521.281
    note = ("≥ at least (prompt 1): the log starts and ends inside it, so its total is the part in the log: it ran "
            "longer")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console)
    shown = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]  # the note wraps
    assert "unfinished ≥25:21" in shown and note in shown
    markdown = render_markdown(report)
    assert "| unfinished | ≥25:21 |" in markdown and note in markdown
    html = render_html(report)
    assert ">≥25:21<" in html and note in html
    # the JSON says it with `received` (README: an unfinished prompt not received has a lower-bound total)
    row = json.loads(render_json(report))["prompts"][0]
    assert (row["received"], row["status"], row["total_s"]) == (False, "unfinished", 1521.281)
    # a prompt the log starts inside that finishes has its whole total (`Prompt executed in`): no ≥
    finished = analyze(FIXTURES / "wanwrapper-mid-prompt-hms.log")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(finished, console)
    assert "≥" not in console.file.getvalue()  # type: ignore[attr-defined]


def test_a_prompt_the_log_starts_inside_that_failed_with_no_total_shows_it_as_at_least(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#6073 (tests/fixtures/oom-allocation-on-device-nul-cut.log, field5 10): the excerpt starts at
    `!!! Exception during processing !!! Allocation on device` (17:10:56.767) and its traceback (17:10:56.770): the
    prompt began before the log and failed, and no `Prompt executed in` gives its total. It showed a total of 0.0s:
    the 3 ms in the log are at least its total, as for a prompt the log starts and ends inside."""
    report = analyze(FIXTURES / "oom-allocation-on-device-nul-cut.log")
    first = _before_log(report)
    assert first.status == "error" and first.executed_s is None and first.total_s is not None
    note = ("≥ at least (prompt 1): the log starts inside it and no `Prompt executed in` gives its total, so its "
            "total is the part in the log: it ran longer")
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console)
    shown = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]  # the note wraps
    assert "error ≥0.0s" in shown and note in shown and "starts and ends inside" not in shown
    assert note in render_markdown(report) and note in render_html(report)


def test_an_unfinished_prompt_queued_behind_the_one_the_log_starts_inside_has_its_whole_total(
        each_segmenter: str) -> None:
    """tests/fixtures/queued-before-log-unfinished-on-clock.log (j955229/ComfyUI-MiniMax-H3-Motion-Director#33 cut
    before its `Processing interrupted`): `Prompt executed in 307.88 seconds` is line 1, so the next prompt, whose `got
    prompt` is also before the log, began inside it (0.45 s after its first line) and is unfinished where the log ends.
    Its 3:37 is all of it so far: no `≥`, and not the note "the log starts and ends inside it" (they were given to any
    unfinished prompt not received). The prompt the log starts inside is the first one only, for the rules too."""
    report = analyze(FIXTURES / "queued-before-log-unfinished-on-clock.log")
    first, second = report.prompts
    assert not first.received and not second.received
    assert first.log_starts_inside and not second.log_starts_inside
    assert second.status == "unfinished" and second.total_s is not None and 210 < second.total_s < 220
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console)
    shown = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]
    assert "unfinished 3:37" in shown and "≥" not in shown and "starts and ends inside" not in shown
    markdown, html = render_markdown(report), render_html(report)
    assert "| unfinished | 3:37 |" in markdown and "≥" not in markdown
    assert ">3:37<" in html and "≥" not in html
    (unfinished,) = [f for f in report.findings if f.id == "unfinished"]
    assert "starts inside" not in unfinished.why and "before the log's first line" not in unfinished.why
    # the time before the log is the first prompt's only
    assert index_of(report).time_spent().before_log == first.total_s


def test_processing_interrupted_before_the_first_prompt_line_ends_the_prompt_the_log_starts_inside(
        each_segmenter: str) -> None:
    """ethanfel/ComfyUI-MiniMaxH3-Context-Loop#15 (tests/fixtures/interrupted-before-log-then-got-prompt.log):
    the log's first lines are `Processing interrupted` and `Prompt executed in 1.83 seconds`. execution.py
    logs the first only for a node of the prompt it runs, so that prompt (queued before the log) was
    interrupted; it used to be shown `ok`, with `infer 0.0s` although nothing of it is in the log."""
    report = analyze(FIXTURES / "interrupted-before-log-then-got-prompt.log")
    first = _before_log(report)
    assert (first.status, first.executed_s) == ("interrupted", 1.83)
    assert [(e.kind, e.prompt) for e in report.errors] == [("interrupted", first.index)]
    assert first.phases is not None and first.phases.inference is None
    assert first.not_timed is not None and first.not_timed["inference"] == "before_log"
    assert report.prompts[1].received and report.prompts[1].status == "unfinished"


def test_every_prompt_of_a_log_with_no_start_up_and_no_got_prompt_was_queued_before_it(each_segmenter: str) -> None:
    """j955229/ComfyUI-MiniMax-H3-Motion-Director#33 (tests/fixtures/two-prompts-queued-before-log-interrupted.log,
    error-report stamps): `Prompt executed in 307.88 seconds` is line 1; the next prompt, queued before the log
    too, begins 0.45 s later, stages MiniMaxH3, samples 6 of 8 steps (a bar with no stamp of its own) and is
    interrupted (`Processing interrupted`, `Prompt executed in 217.73 seconds`). Its bar, load and
    interruption used to go to no prompt, and it was shown `ok` with `infer 0.0s`."""
    report = analyze(FIXTURES / "two-prompts-queued-before-log-interrupted.log")
    first, second = report.prompts
    assert not first.received and not second.received
    assert first.status == "ok" and first.phases is not None and first.phases.inference is None
    assert second.status == "interrupted" and second.executed_s == 217.73
    (bar,) = report.progress_bars
    assert (bar.prompt, bar.done, bar.total) == (second.index, 6, 8)
    assert [ld.prompt for ld in report.loads] == [second.index]
    assert [(e.kind, e.prompt) for e in report.errors] == [("interrupted", second.index)]
    # it began inside the log (0.45 s after its first line): all of it is there, nothing left untimed
    assert second.phases is not None and second.not_timed is None
    assert second.phases.inference is not None and 200 < second.phases.inference < bar.elapsed_s


def test_a_log_that_starts_among_the_import_times_does_not_know_its_start_up(each_segmenter: str) -> None:
    """kijai/ComfyUI-HunyuanVideoWrapper#394 (tests/fixtures/error-report-starts-in-import-times.log): the error
    report's excerpt starts at the last two rows of `Import times for custom nodes`, 9 ms before `Starting server`.
    The start-up happened before the log: `start-up 0.0s` was said; its length is not known."""
    report = analyze(FIXTURES / "error-report-starts-in-import-times.log")
    (run,) = report.runs
    assert [t[3] for t in run.import_times] == [1, 2] and run.ready_at is not None
    assert run.startup_s is None and run.startup_not_in_log()


def test_the_prompt_worker_s_death_after_an_interrupt_is_no_failure_of_the_prompt(each_segmenter: str) -> None:
    """yanlang0123/ComfyUI_Lam#12 (tests/fixtures/prompt-worker-died-after-interrupt.log): `Processing interrupted`,
    then `Exception in thread Thread-37 (prompt_worker):` and a TypeError raised in main.py's `q.task_done` (a custom
    node's queue class). The prompt the log starts inside was interrupted; the queue thread died after it. The
    TypeError is not the prompt's failure in a node (it would say "1 prompt failed ... ComfyUI stops a prompt at the
    node that raised it")."""
    report = analyze(FIXTURES / "prompt-worker-died-after-interrupt.log")
    (prompt,) = report.prompts
    assert not prompt.received and prompt.status == "interrupted"
    assert [(e.kind, e.prompt) for e in report.errors] == [("interrupted", prompt.index), ("exception", None)]
    ids = [f.id for f in report.findings]
    assert "prompt-worker-died" in ids
    # prompt-worker-died names the TypeError that killed the thread: `exception` does not say it again as "1 exception
    # outside any prompt ... at start-up or in a background task" with advice on workflows (field3 04)
    assert "exception" not in ids
    (died,) = [f for f in report.findings if f.id == "prompt-worker-died"]
    assert "CustomPromptQueue.task_done() got an unexpected keyword argument 'process_item'" in died.why


def test_the_prompt_worker_s_death_inside_the_executor_is_the_prompt_s(each_segmenter: str) -> None:
    """wuwukaka/ComfyUI-WanAnimatePlus#22 (tests/fixtures/scail2-chunk-bar-then-prompt-worker-dies.log, field6 06): the
    log starts inside a prompt (a node's sampling bar), then `Exception in thread Thread-14 (prompt_worker):` and a
    traceback through `execution.py` `execute` and `get_output_data`: the thread died running that prompt's node.
    Its error row said prompt `—`. (After an interrupt, in main.py's `q.task_done`, it stays no prompt's: above.)"""
    report = analyze(FIXTURES / "scail2-chunk-bar-then-prompt-worker-dies.log")
    (prompt,) = report.prompts
    assert not prompt.received
    assert [(e.kind, e.prompt, e.line) for e in report.errors] == [("traceback", prompt.index, 7)]
    (died,) = [f for f in report.findings if f.id == "prompt-worker-died"]
    assert died.prompts == [prompt.index]


def test_a_prompt_queued_behind_the_one_the_log_starts_inside_began_inside_the_log(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#14475 (tests/fixtures/wanwrapper-mid-prompt-hms.log, field log 09): the log starts inside a
    prompt (`Prompt executed in 00:37:59`), then the next prompt, whose `got prompt` is also before the log, loads T5
    and is cut by the log's end. It was queued behind the first (ComfyUI runs one prompt at a time) and began inside
    the log, so `unfinished` must not call the log an excerpt of one prompt ("The log ends inside the prompt it starts
    inside", as it did when every prompt received before the log counted as the one it starts inside)."""
    report = analyze(FIXTURES / "wanwrapper-mid-prompt-hms.log")
    first, second = report.prompts
    assert (first.received, first.status) == (False, "ok")
    assert (second.received, second.status) == (False, "unfinished")
    (unfinished,) = [f for f in report.findings if f.id == "unfinished"]
    assert unfinished.title == "1 prompt never finished"
    assert "starts inside" not in unfinished.why and "before the log's first line" not in unfinished.why


def test_where_the_time_went_leaves_out_the_time_before_the_log(each_segmenter: str) -> None:
    """j955229/ComfyUI-MiniMax-H3-Motion-Director#33 (tests/fixtures/two-prompts-queued-before-log-interrupted.log,
    field3 02): line 1 is `Prompt executed in 307.88 seconds`, so all 5:08 of that prompt ran before the log, which
    spans 3:39. "Where the time went" showed it as 5:08 "not timed" (58%) beside the 3:39 the log holds, and "load not
    timed" for a log whose only load took 0.0 s. The rows now add up to the log's span, and the caption says how
    much of the prompts' time was before the log's first line."""
    report = analyze(FIXTURES / "two-prompts-queued-before-log-interrupted.log")
    first = report.prompts[0]
    spent = index_of(report).time_spent()
    rows = dict(spent.rows)
    assert "untimed" not in rows and rows["load"] == 0.0
    (source,) = report.sources
    assert source.span_s is not None
    assert abs(sum(seconds or 0.0 for seconds in rows.values()) - source.span_s) < 1.0
    assert first.total_s is not None and spent.before_log == first.total_s
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console)
    shown = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]  # the caption wraps
    assert "prompts 8:46 in all, 5:08 of it before the log's first line (not in the log)" in shown
    # without a clock the untimed seconds of such a prompt hold work the log shows too: they stay "not timed"
    no_clock = index_of(analyze(FIXTURES / "wanwrapper-mid-prompt-hms.log")).time_spent()
    assert no_clock.before_log == 0.0 and dict(no_clock.rows)["untimed"] > 0
