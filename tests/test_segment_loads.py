"""Which model each ``loaded ...`` line is about, and which prompt ran when queued prompts vanish."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from comfylog.api import analyze
from comfylog.events import Phase

from .conftest import CORPUS, EXAMPLES, FIXTURES, corpus_log, corpus_or_skip

if TYPE_CHECKING:
    from comfylog.segment.segmenter import Segmenter


def test_batch_requests_are_matched_to_loaded_lines_in_order() -> None:
    """005: ControlNetFlux and Flux requested together, then one loaded line each; later partial
    re-loads of Flux come without a request."""
    corpus_or_skip()
    loads = {ld.line: ld for ld in analyze(CORPUS / "logs" / "005-ninetyfive666-flux-3090-partial.log").loads}
    assert (loads[1003].model, loads[1003].kind) == ("ControlNetFlux", "complete")
    assert (loads[1004].model, loads[1004].kind) == ("Flux", "partial")
    assert loads[1008].model == "ControlNetFlux"  # same 6297.97 MB as its first full load
    assert (loads[1009].model, loads[1009].kind) == ("Flux", "partial")
    assert all(ld.model is not None for ld in loads.values() if ld.kind == "partial")


def test_a_request_glued_after_a_bars_last_state_names_the_load_after_it(each_segmenter: str) -> None:
    """komikndr/raylight#48 (field6 08): tqdm left no newline, so `Requested to load WanVAE` is on the bar's line
    (`… 20.0/20.0 [01:26<00:00, 4.66s/it]Requested to load WanVAE`). The bar closed at the next line and dropped
    the request as stale (a request with no loaded line before a bar): `loaded partially; 0.00 MB usable, …` was
    about no model, and the lowvram finding named none."""
    (load,) = analyze(FIXTURES / "bar-glued-request-then-partial-load.log").loads
    assert (load.line, load.model, load.kind, load.usable_mb) == (3, "WanVAE", "partial", 0.0)


def test_unrequested_full_load_of_unknown_size_is_not_guessed() -> None:
    loads = analyze(EXAMPLES / "runpod-lowvram-gguf.log").loads
    assert [(ld.line, ld.model) for ld in loads] == [
        (56, "WanTEModel"), (58, "WanVAE"), (171, "WAN21"), (177, "WanVAE"), (193, None)]


def test_prompts_dropped_from_the_queue_do_not_take_later_executions() -> None:
    """019: prompts at lines 105 and 106 were queued and never ran; `Prompt executed in 21.10 seconds`
    began at 23:21:28.56, when the prompt of line 127 was received."""
    corpus_or_skip()
    prompts = {p.line: p for p in analyze(CORPUS / "logs" / "019-pogchan-gtx1660ti-lowvram-zimage.log").prompts}
    assert (prompts[105].status, prompts[105].total_s) == ("dropped", None)
    assert (prompts[106].status, prompts[106].total_s) == ("dropped", None)
    for line, executed in ((127, 21.10), (158, 19.16), (189, 107.52)):
        assert prompts[line].executed_s == executed
        assert abs(prompts[line].total_s - executed) < 0.05
    assert prompts[189].status == "error"  # the OOM happened in the prompt that ran


def test_untimed_prompt_that_loaded_without_a_bar_has_no_inference_figure() -> None:
    # 038 has minute stamps and no tqdm bars: every prompt loads BaseModel and samples (line 58 on) without
    # a bar in the log, so how long it sampled is not known: not 0.0.
    report = analyze(corpus_log("038"))
    assert all(p.estimated and p.phases.inference is None and p.phases.other is None for p in report.prompts)
    # 001 (minute stamps too): a prompt that loaded nothing and drew no bar (outputs cached) sampled for 0 s.
    cached = [p for p in analyze(corpus_log("001")).prompts
              if p.total_s is not None and p.phases.load == 0.0 and p.phases.inference == 0.0]
    assert cached and all(p.phases.other == p.total_s for p in cached)


def test_a_prompt_loading_thousands_of_models_holds_few_of_its_loads() -> None:
    """Loads are final once no queued prompt can take them (segmenter._release): a prompt that loads 20,000
    models (a generated log: real prompts load tens) keeps at most a release interval of them pending, not all
    until it ends (200,000 held ~30 MB in each segmenter). The Rust segmenter releases them alike: the
    differential tests compare the tables, and benchmarks/scaling.py's ``models`` shape its memory."""
    from comfylog.segment.segmenter import RELEASE_EVERY

    count = 20_000
    lines = ["Starting server", "got prompt"]
    for i in range(count):
        lines += [f"Requested to load Model{i}", f"loaded completely 1000.0 {i}.5 True"]
    lines.append("Prompt executed in 100.00 seconds")
    seg, held = _segmented_holding(lines, lambda seg: len(seg._pending_loads.items))
    assert len(seg.loads) == count
    assert [ld.model for ld in list(seg.loads)[::4999]] == ["Model0", "Model4999", "Model9998", "Model14997",
                                                           "Model19996"]
    assert 0 < held <= RELEASE_EVERY  # two events a load: a release every 2,048 loads


def test_a_prompt_raising_thousands_of_errors_holds_few_of_them() -> None:
    """The running prompt's errors are final but for the incident being read, those a queued prompt that ran
    takes, and the last RECENT_ERRORS (segmenter._release): a prompt logging 20,000 exceptions (a generated log)
    keeps at most a release interval of them pending, not all until it ends (300,000 in one prompt peaked at
    323 MB). Every error is a record all the same, in order; test_native_segmenter.py compares the Rust
    segmenter's tables."""
    from comfylog.segment.segmenter import RELEASE_EVERY

    lines = ["Starting server", "got prompt"]
    for i in range(20_000):
        lines += ["!!! Exception during processing !!! boom", "Traceback (most recent call last):",
                  f"RuntimeError: boom {i}"]
    lines.append("Prompt executed in 100.00 seconds")
    seg, held = _segmented_holding(lines, lambda seg: len(seg._pending_errors.items))
    errors = list(seg.errors)
    assert len(errors) == 20_000 and [e.line for e in errors] == sorted(e.line for e in errors)
    assert {(e.prompt, e.kind) for e in errors} == {(0, "exception")}
    assert 0 < held <= RELEASE_EVERY  # three activities an error: a release every 1,365 errors


def test_thousands_of_queued_prompts_hold_no_record_until_they_leave_the_queue() -> None:
    """A queued prompt is its index, line and time until it starts (segment/queue.py): 20,000 ``got prompt`` lines
    behind one that never ends (h28/gen.py's 1,000,000 held a Prompt record each: 1.25 GB) keep only the running
    prompt's record pending. At the end each is a record all the same, in order, received at its own time."""
    from datetime import datetime, timedelta

    t0 = datetime(2025, 10, 22)
    stamp = [(t0 + timedelta(milliseconds=i)).strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + "]" for i in range(20_002)]
    lines = [f"{stamp[0]} Starting server", f"{stamp[1]} To see the GUI go to: http://127.0.0.1:8188"]
    lines += [f"{stamp[i + 2]} got prompt" for i in range(20_000)]
    seg, held = _segmented_holding(lines, lambda seg: len(seg._pending_prompts.items) + len(seg._queue._whole))
    prompts = list(seg.prompts)
    assert held == 1  # the running prompt
    assert [p.index for p in prompts] == list(range(20_000))
    assert [p.line for p in prompts[::4999]] == [3, 5002, 10001, 15000, 19999]
    assert all(p.got_at == t0 + timedelta(milliseconds=p.line - 1) for p in prompts)
    assert [(p.status, p.started) for p in prompts[:2]] == [("unfinished", True), ("unfinished", False)]
    assert {(p.status, p.started, p.last_line == p.line) for p in prompts[1:]} == {("unfinished", False, True)}


def test_a_prompt_drawing_thousands_of_stamped_bars_holds_a_window_of_them() -> None:
    """A running prompt paints its stamped bars as they come (segmenter._fold_bars): a prompt of 20,000 bars (a
    generated log, lines 10 ms apart; research/bars29/gen.py's 400,000 held 609 MB until it ended) holds a window
    of them and of its activities, not all: FOLD_BARS, and those drawn in the last phases.FOLD_KEEP_S. Every bar
    is a record all the same, in order and placed, and the phases sum up; test_native_segmenter.py compares the
    report with painting them all when the prompt ends."""
    from comfylog.segment.segmenter import FOLD_BARS

    count, ms = 20_000, 0
    lines = ["Starting server", "[2025-10-22 00:00:00.000] got prompt"]
    for i in range(count):
        for n in range(i % 4 + 1):
            ms += 10
            rate = "?, ?it/s" if n == 0 else "00:00, 1000.00it/s"
            lines.append(f"[2025-10-22 00:{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}]"
                         f" {100 * n // (i % 4 + 1):3d}%|          | {n}/{i % 4 + 1} [00:00<{rate}]")
    lines.append(f"[2025-10-22 00:{ms // 60_000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}] Prompt executed in "
                 f"{ms / 1000:.2f} seconds")
    held = {"bars": 0, "activities": 0}

    def holding(seg: Segmenter) -> int:
        if seg._open is not None:
            held["bars"] = max(held["bars"], len(seg._pending_bars.items))  # the window's and those before
            held["activities"] = max(held["activities"], len(seg._open.activities))
        return 0

    seg, _ = _segmented_holding(lines, holding)
    bars = list(seg.bars)
    assert len(bars) == count and [b.line for b in bars] == sorted(b.line for b in bars)
    assert all(b.start is not None and b.end is not None and b.start <= b.end for b in bars)
    assert 0 < held["bars"] <= 2 * FOLD_BARS and 0 < held["activities"] <= 6 * FOLD_BARS
    prompt = list(seg.prompts)[0]
    assert prompt.phases is not None and prompt.total_s == round(ms / 1000, 3)
    assert (prompt.phases.inference or 0) > 0 and sum(s.phase is Phase.INFERENCE for s in prompt.spans) > count / 2


def test_queued_prompts_worker_comfyui_names_hold_no_record() -> None:
    """worker-comfyui's ``Queued workflow with ID`` names the latest received (handler.py's queue_workflow logs it
    once ComfyUI answered, after ``got prompt``): its id is kept beside the compact queue (queue.py name_last),
    not as a record held whole. 5,000 named prompts behind one that never ends keep only the running prompt's
    record; each record at the end has its own id, and the first id given to a prompt stays."""
    from datetime import datetime, timedelta

    t0 = datetime(2025, 10, 22)

    def stamp(i: int) -> str:
        return (t0 + timedelta(milliseconds=i)).strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + "]"

    lines = [f"{stamp(0)} Starting server", f"{stamp(1)} To see the GUI go to: http://127.0.0.1:8188"]
    for i in range(5_000):
        lines += [f"{stamp(2 * i + 2)} got prompt",
                  f"{stamp(2 * i + 3)} worker-comfyui - Queued workflow with ID: 0000-{i:04d}"]
    lines.append(f"{stamp(10_003)} worker-comfyui - Queued workflow with ID: 0000-again")
    seg, held = _segmented_holding(
        lines, lambda seg: len(seg._pending_prompts.items) + len(seg._queue._whole))
    prompts = list(seg.prompts)
    assert held == 1  # the running prompt
    assert [p.prompt_id for p in prompts] == [f"0000-{i:04d}" for i in range(5_000)]
    assert {p.status for p in prompts} == {"unfinished"}


def _segmented_holding(lines: list[str], pending: Callable[[Segmenter], int]) -> tuple[Segmenter, int]:
    """``lines`` through Python's parser and segmenter, line by line: the segmenter, and the most records
    ``pending`` counted held back from its tables at any point."""
    from comfylog.parse import Parser
    from comfylog.read.lines import open_text
    from comfylog.segment.segmenter import Segmenter

    seg, parser = Segmenter(0), Parser(0)
    held = 0
    log = open_text("\n".join(lines) + "\n")
    assert log.lines is not None
    for raw in log.lines:
        seg.feed_all(parser.feed(raw))
        held = max(held, pending(seg))
    seg.feed_all(parser.close())
    seg.finish()
    return seg, held
