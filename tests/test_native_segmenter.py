"""The native segmenter (native/src/segment/, COMFYLOG_SEGMENTER=native) against the Python
segmenter, the reference: the same ``analyze --format json`` on every real log, redacted, cut short,
several inputs in one report, hostile bytes and a generated benchmark-like log.

The Rust segmenter is the default where the native scanner reads; the port is not complete
(native/SEGMENTER.md): an input it cannot segment as Python does is handed back to Python's segmenter
(its SourceInfo's ``fell_back`` says why). Every real log below must be segmented natively (no
fallback): a log that starts falling back is a regression of the port, not a pass.
"""

from __future__ import annotations

import bisect
import json
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comfylog.events import EventKind, Phase
from comfylog.parse.native import native_module
from comfylog.pipeline import analyze_paths, analyze_text
from comfylog.read.lines import open_input
from comfylog.read.redact import Redactor
from comfylog.read.source import UnusableInput
from comfylog.render.json import render_json
from comfylog.segment.native import SegmenterUnavailable, segmenter

from .cli import run_cli
from .conftest import ROOT
from .test_hostile_input import LOGS
from .test_native_scanner import CORPUS, REAL_LOGS, _generate_module, needs_native

#: Real logs the native segmenter does not segment yet, with the reason it gives (none today).
NOT_PORTED: dict[str, str] = {}


def report_json(
    paths: list[Path], which: str, monkeypatch: pytest.MonkeyPatch, redactor: Redactor | None = None,
) -> tuple[str, list[tuple[str, str]]]:
    """The JSON with segmenter ``which``, and the inputs handed back to Python's segmenter, with why.
    Each input was segmented by ``which``, but a fallback and a line input (read/lines.py: a console
    copy, a saved stream), which Python's segmenter always reads."""
    with monkeypatch.context() as m:
        m.setenv("COMFYLOG_SCANNER", "native")
        m.setenv("COMFYLOG_SEGMENTER", which)
        report = analyze_paths([str(p) for p in paths], redactor, json_rows=True)
    fell = [(src.name, src.fell_back) for src in report.sources if src.fell_back is not None]
    for path, src in zip(paths, report.sources, strict=True):
        lines = open_input(str(path), blocks=True).blocks is None
        assert src.segmenter == ("python" if which == "python" or lines or src.fell_back else "native"), path
    return render_json(report), fell


def assert_same(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch, redactor: Redactor | None = None, natively: bool = True,
) -> list[tuple[str, str]]:
    """Both segmenters give the same JSON (or the same one-line error); the inputs handed back to
    Python's segmenter, which must be none where ``natively``."""
    try:
        python, _ = report_json(paths, "python", monkeypatch, redactor)
    except UnusableInput as exc:
        with pytest.raises(UnusableInput) as raised:
            report_json(paths, "native", monkeypatch, redactor)
        assert str(raised.value) == str(exc)
        return []
    native, fell = report_json(paths, "native", monkeypatch, redactor)
    assert native == python, [p.name for p in paths]
    if natively:
        assert fell == [], fell
    return fell


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_every_real_log_segments_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fell = assert_same([path], monkeypatch, natively=path.name not in NOT_PORTED)
    if path.name in NOT_PORTED:
        assert [why for _, why in fell] == [NOT_PORTED[path.name]]


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
@pytest.mark.parametrize("path", REAL_LOGS[::4], ids=lambda p: p.name)
def test_real_logs_redacted_segment_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same([path], monkeypatch, Redactor(ips=True), natively=path.name not in NOT_PORTED)


@needs_native
def test_logs_cut_short_segment_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log that ends mid-prompt, mid-bar or mid-traceback: the run and prompt still open are closed
    as the Python segmenter closes them."""
    for log in [p for p in REAL_LOGS if p.suffix == ".log"][::5]:
        data = log.read_bytes()
        for cut in (len(data) // 3, len(data) // 2 + 7, len(data) - 3):
            path = tmp_path / f"{log.stem}-{cut}.log"
            path.write_bytes(data[:cut])
            assert_same([path], monkeypatch, natively=log.name not in NOT_PORTED)


@needs_native
@pytest.mark.skipif(not (CORPUS / "logs").is_dir(), reason="no corpus")
def test_several_inputs_in_one_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and prompts are numbered on from the inputs before (first_run_index, first_prompt_index)."""
    logs = CORPUS / "logs"
    paths = [logs / "001-aiaesthetica-rtx4000ada-18prompts.log",
             logs / "043-nohaxjsutluck-runpod-restart-loop-6-cuda-banners.log",
             *sorted((ROOT / "examples").glob("*.log"))]
    assert_same(paths, monkeypatch)


@needs_native
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LOGS)
def test_any_bytes_segment_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    path = tmp_path / "fuzz.log"
    path.write_bytes(data)
    assert_same([path], monkeypatch, natively=False)


@needs_native
@pytest.mark.skipif(not (CORPUS / "logs").is_dir(), reason="no corpus")
def test_a_generated_benchmark_log_segments_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/generate.py's mix, 3 MB: several blocks scanned on threads, records handed over in
    batches as they become final (RELEASE_EVERY), prompts whose bars cross block edges."""
    path = tmp_path / "bench.log"
    _generate_module().generate(3_000_000, path, seed=7)
    assert_same([path], monkeypatch)


@needs_native
def test_a_prompt_of_thousands_of_models_lists_each_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt's models are listed once each, in the order first requested (each segmenter keeps a set of
    them: a pass over the list per request made 200,000 models take minutes), up to MAX_PROMPT_MODELS; the
    requests of models past them are counted, not kept (the list and its set grew with the log: 200,000
    models in one prompt held ~90 MB), and the JSON and the terminal report say how many."""
    from comfylog.model import MAX_PROMPT_MODELS

    count = 3 * MAX_PROMPT_MODELS
    requests = [*range(count), *range(0, count, 7)]
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB", "Starting server", "got prompt"]
    for i in requests:
        lines += [f"Requested to load Model{i}", f"loaded completely 1000.0 {i % 5000}.5 True"]
    lines += ["Prompt executed in 100.00 seconds", "got prompt", "Requested to load Model1",
              "loaded completely 1000.0 1.5 True", "Prompt executed in 1.00 seconds"]
    path = tmp_path / "models.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same([path], monkeypatch)
    # every request of a model not among the first MAX_PROMPT_MODELS (repeats too: no set of them is kept)
    not_listed = sum(1 for i in requests if i >= MAX_PROMPT_MODELS)
    for which in ("python", "native"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SEGMENTER", which)
            report = analyze_paths([str(path)], json_rows=True)
        assert [p.models for p in report.prompts] == [[f"Model{i}" for i in range(MAX_PROMPT_MODELS)], ["Model1"]]
        assert report.summary.models_not_listed == not_listed, which
        assert json.loads(render_json(report))["summary"]["models_not_listed"] == not_listed
        assert len(list(report.loads)) == len(requests) + 1  # every load is a record all the same
    text = str(run_cli("analyze", str(path), columns=200, text=True).stdout)
    assert f"{not_listed} more model requests not kept (a prompt lists at most {MAX_PROMPT_MODELS} models)" in text


@needs_native
def test_a_run_of_thousands_of_import_times_keeps_its_first_and_last_and_counts_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run keeps MAX_RUN_IMPORT_TIMES rows of its import times, the first and the last half (each kept row held
    ~200 bytes, and import-failed cited and named every failed one: 200,000 failed imports peaked at ~360 MB;
    ComfyUI's nodes.py lists them sorted by time, the slowest last); the rows between are counted with their
    failures and seconds, so the run's import_s, the reports' "N imported, N failed" and import-failed's count are
    those of the whole list. The rows are as nodes.py prints them (`{:6.1f} seconds{}: {}`, corpus 025); the
    `Cannot import` line of a node among the rows not kept is not taken for a row cut off the log (counted twice)."""
    from comfylog.model import MAX_RUN_IMPORT_TIMES

    count = 3 * MAX_RUN_IMPORT_TIMES
    failing = set(range(0, count, 3))
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB",
             f"Cannot import /x/custom_nodes/node{count - 3} module for custom nodes: No module named 'zz'",
             "", "Import times for custom nodes:"]
    lines += [f"   {i % 7}.{i % 10} seconds{' (IMPORT FAILED)' if i in failing else ''}: /x/custom_nodes/node{i}"
              for i in range(count)]
    lines += ["", "Starting server", "", "To see the GUI go to: http://127.0.0.1:8188"]
    path = tmp_path / "imports.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same([path], monkeypatch)
    whole_s = round(sum(i % 7 + (i % 10) / 10 for i in range(count)), 3)
    half = MAX_RUN_IMPORT_TIMES // 2
    kept = [*range(half), *range(count - half, count)]
    for which in ("python", "native"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SEGMENTER", which)
            report = analyze_paths([str(path)], json_rows=True)
        (run,) = report.runs
        assert [t[1] for t in run.import_times] == [f"/x/custom_nodes/node{i}" for i in kept]
        assert run.imports_not_kept == count - MAX_RUN_IMPORT_TIMES, which
        assert run.failed_imports == len(failing) and run.imports_listed == count
        assert run.import_s == pytest.approx(whole_s)
        (row,) = json.loads(render_json(report))["runs"]
        assert row["imports_not_kept"] == count - MAX_RUN_IMPORT_TIMES and row["import_s"] == run.import_s
        found = next(f for f in report.findings if f.id == "import-failed")
        assert found.title == f"{len(failing)} custom nodes failed to import"
        kept_failing = len(failing & set(kept))
        assert len(found.figures["nodes"]) == kept_failing  # type: ignore[arg-type]
        assert found.figures["nodes_not_listed"] == len(failing) - kept_failing
        assert found.evidence_total == len(failing) and len(found.evidence) == 5
    text = str(run_cli("analyze", str(path), columns=200, text=True).stdout)
    assert f"{count - len(failing)} imported" in text and f"{len(failing)} failed" in text
    assert (f"{count - MAX_RUN_IMPORT_TIMES} more rows of the custom nodes' import times not kept (a run keeps its "
            f"first and last {half}") in text


def _bar_lines(count: int) -> list[str]:
    """tqdm's lines as ComfyUI's console shows them, one finished bar a line (the sampler's, and every seventh a
    library's ``Loading checkpoint shards``, which parse/bars.py's table makes a loading bar), none stamped."""
    return [f"Loading checkpoint shards: 100%|██████████| 4/4 [00:0{i % 10}<00:00,  1.6{i % 10}it/s]" if i % 7 == 3
            else f"100%|██████████| 20/20 [00:0{i % 10}<00:00,  2.{i % 10}it/s]" for i in range(count)]


@needs_native
def test_a_prompt_of_thousands_of_unstamped_bars_holds_its_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bar no reading can place (no stamp of its own and none before it) is settled as soon as the next bar comes:
    its record is final (it is never painted) and what painting reads of it is summed in the prompt's SettledBars.
    Each segmenter held every bar of the running prompt until it ended (the Rust one copied each again to paint
    it: 400,000 bars peaked at ~265 MB); the prompt holds its last now, and its phases are those of all its bars."""
    from comfylog.parse import Parser
    from comfylog.read.lines import open_text
    from comfylog.segment.segmenter import RELEASE_EVERY, Segmenter

    count = 6000
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB", "Starting server", "got prompt", *_bar_lines(count),
             "Prompt executed in 90000.00 seconds", "got prompt", *_bar_lines(5)]
    seg, parser = Segmenter(0), Parser(0)
    held = pending = 0
    log = open_text("\n".join(lines) + "\n")
    assert log.lines is not None
    for raw in log.lines:
        seg.feed_all(parser.feed(raw))
        if seg._open is not None:
            held = max(held, len(seg._open.bars))
        pending = max(pending, len(seg._pending_bars.items))
    seg.feed_all(parser.close())
    seg.finish()
    assert len(seg.bars) == count + 5
    assert held == 1 and pending <= RELEASE_EVERY  # its last bar (_end_run reads it), and a release interval
    path = tmp_path / "bars.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same([path], monkeypatch)
    report = analyze_paths([str(path)], json_rows=True)
    first, unfinished = report.prompts
    bars = [b for b in report.progress_bars if b.prompt == 0]
    assert len(bars) == count and all(b.start is None for b in bars)
    assert first.estimated and first.phases.inference == round(sum(b.elapsed_s for b in bars if b.is_sampling), 3)
    assert first.phases.load == round(sum(b.elapsed_s for b in bars if b.is_loading), 3) > 0
    assert unfinished.status == "unfinished" and unfinished.phases.inference is not None


@needs_native
def test_unstamped_bars_settle_alike_in_both_segmenters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shapes around settling: a prompt queued before the bars (its bars stay held: a queued prompt that ran
    instead would take them), a bar that never advanced (`0/20`), a prompt the log starts inside whose first
    stamp comes after its bars (painted on a clock, its settled bars unplaced), an unfinished prompt at the end."""
    bars = _bar_lines(40)
    logs = {
        "queued": ["Starting server", "got prompt", "got prompt", *bars, "Prompt executed in 500.00 seconds",
                   *bars, "Prompt executed in 500.00 seconds"],
        "not-advanced": ["Starting server", "got prompt", *bars[:9], "  0%|          | 0/20 [00:00<?, ?it/s]",
                         "Processing interrupted", *bars[:3], "Prompt executed in 200.00 seconds"],
        "before-log": [*bars, "[2025-10-22 18:02:11.402] got prompt",
                       "[2025-10-22 18:02:19.402] 100%|██████████| 20/20 [00:03<00:00,  5.87it/s]",
                       "[2025-10-22 18:02:20.000] Prompt executed in 9.00 seconds"],
        "unfinished": ["Starting server", "got prompt", *bars],
    }
    for name, lines in logs.items():
        path = tmp_path / f"{name}.log"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert_same([path], monkeypatch)


def _stamped(lines: list[tuple[float, str]]) -> str:
    """Lines at their second of 2025-10-22 (Manager's stamps)."""
    t0 = datetime(2025, 10, 22)
    return "".join((t0 + timedelta(seconds=at)).strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + f"] {line}\n"
                   for at, line in lines)


@needs_native
def test_queued_prompts_leave_the_queue_alike_in_both_segmenters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Queued prompts are compact until they leave the queue (segment/queue.py, queue.rs): the ways they leave, in
    both segmenters. They start; they are dropped (``Prompt executed in`` says the prompt that ran was received
    later: _match_execution); the latest received is rejected (``invalid prompt``, twice: the second takes the
    one before it) after its outputs failed, waiting for those queued before it; worker-comfyui names one; one is
    interrupted; a restart leaves a queue (3,000 prompts: blocks made from the compact queue) and the next run's
    prompts come after it."""
    invalid = ("invalid prompt: {'type': 'prompt_outputs_failed_validation', 'message': 'Prompt outputs failed "
               "validation', 'details': '', 'extra_info': {}}")
    start = [(0.0, "Starting server"), (1.0, "To see the GUI go to: http://127.0.0.1:8188")]
    logs = {
        "dropped": [*start, (2.0, "got prompt"), (3.0, "got prompt"), (4.0, "got prompt"), (97.0, "got prompt"),
                    (98.0, "got prompt"), (100.0, "Prompt executed in 2.50 seconds"),
                    (103.0, "Prompt executed in 3.00 seconds"), (104.0, "got prompt")],
        "invalid": [*start, (2.0, "got prompt"), (3.0, "got prompt"), (4.0, "got prompt"), (5.0, "got prompt"),
                    (5.1, "Failed to validate prompt for output 9:"), (5.2, "Failed to validate prompt for output 12:"),
                    (5.3, invalid), (5.4, invalid), (6.0, "got prompt"),
                    (7.0, "worker-comfyui - Queued workflow with ID: 14d91ee5-925b-4739-b000-46c2066d8171"),
                    (10.0, "Prompt executed in 8.00 seconds"), (11.0, "Processing interrupted"),
                    (11.5, "Prompt executed in 1.50 seconds"), (12.0, "got prompt"), (13.0, invalid)],
        "restart": [*start, *((2.0 + i / 1000, "got prompt") for i in range(3_000)), (10.0, "Starting server"),
                    (11.0, "got prompt"), (12.0, "got prompt"), (13.0, "Prompt executed in 2.00 seconds")],
    }
    for name, lines in logs.items():
        path = tmp_path / f"{name}.log"
        path.write_text(_stamped(lines), encoding="utf-8")
        assert_same([path], monkeypatch)
    with monkeypatch.context() as m:
        m.setenv("COMFYLOG_SEGMENTER", "python")
        dropped, invalidated, restart = (
            list(analyze_paths([str(tmp_path / f"{name}.log")]).prompts) for name in logs)
    assert [p.status for p in dropped] == ["dropped", "dropped", "dropped", "ok", "ok", "unfinished"]
    assert [(p.status, p.invalid_outputs) for p in invalidated] == [
        ("ok", 0), ("interrupted", 0), ("invalid", 0), ("invalid", 2), ("unfinished", 0), ("invalid", 0)]
    assert invalidated[4].prompt_id == "14d91ee5-925b-4739-b000-46c2066d8171"
    assert len(restart) == 3_002 and [p.index for p in restart] == list(range(3_002))
    assert {p.status for p in restart[1:3_000]} == {"unfinished"} and restart[-1].status == "unfinished"


@needs_native
def test_a_long_queue_left_is_handed_over_a_few_blocks_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A queue a run's end leaves is made into blocks a few at a time (pickle.rs HAND_BLOCKS), each hand-over
    its own call (Scanner.more): h28/gen.py's 1,000,000 queued prompts left at the input's end were handed to
    Python in one list (539 MB). A restart leaves 2,000 prompts, the log's end 3,000 (blocks of 50 records):
    no hand-over carries more than 4 blocks of prompts, and the JSON is Python's segmenter's."""
    import comfylog.spool as spool
    from comfylog.parse.native import NativeParser

    monkeypatch.setattr(spool, "BLOCK", 50)
    start = [(0.0, "Starting server"), (1.0, "To see the GUI go to: http://127.0.0.1:8188")]
    lines = [*start, *((2.0 + i / 1000, "got prompt") for i in range(2_000)), (10.0, "Starting server"),
             (10.5, "To see the GUI go to: http://127.0.0.1:8188"), (11.0, "got prompt"),
             (12.0, "Prompt executed in 0.50 seconds"), *((13.0 + i / 1000, "got prompt") for i in range(3_000))]
    path = tmp_path / "queued.log"
    path.write_text(_stamped(lines), encoding="utf-8")
    handed: list[int] = []  # blocks of prompts in each hand-over of the native segmenter
    real = {name: getattr(NativeParser, name) for name in ("feed_records", "close_records", "more_records")}

    def counted(records: Any) -> Any:
        handed.append(sum(isinstance(part, tuple) for part in records[1]))
        return records

    monkeypatch.setattr(NativeParser, "feed_records", lambda self, block: counted(real["feed_records"](self, block)))
    monkeypatch.setattr(NativeParser, "close_records", lambda self: counted(real["close_records"](self)))
    monkeypatch.setattr(NativeParser, "more_records", lambda self: map(counted, real["more_records"](self)))
    assert_same([path], monkeypatch)
    assert max(handed) == 4 and sum(handed) == 5_001 // 50  # 5,001 prompts: 100 whole blocks, the last one records


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
def test_blocks_pickled_in_rust_read_back_as_pythons_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole spool blocks are pickled by the Rust side (native/src/segment/pickle.rs), never made as
    Python objects: with blocks of a few records every real log puts most of its records through that
    path, and every record read back equals the one Python's segmenter made and pickle read back."""
    import comfylog.segment.segmenter as pysegmenter
    import comfylog.spool as spool

    monkeypatch.setattr(spool, "BLOCK", 5)
    monkeypatch.setattr(pysegmenter, "RUN_BLOCK", 2)
    pickled = 0
    add_pickled = spool.Spool.add_pickled

    def counting(self: spool.Spool[object], data: bytes, decoded: int, json_rows: str | None = None) -> None:
        nonlocal pickled
        pickled += 1
        add_pickled(self, data, decoded, json_rows)

    monkeypatch.setattr(spool.Spool, "add_pickled", counting)
    for path in REAL_LOGS[::3]:
        assert_same([path], monkeypatch)
    assert pickled > 100
    path = next(p for p in REAL_LOGS if p.name.startswith("001-"))
    tables = {}
    for which in ("python", "native"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SCANNER", "native")
            m.setenv("COMFYLOG_SEGMENTER", which)
            report = analyze_paths([str(path)], evidence=False)
        tables[which] = [list(t) for t in (report.runs, report.prompts, report.progress_bars, report.loads,
                                           report.errors)]
        assert report.prompts.on_disk and report.loads.on_disk and report.progress_bars.on_disk
    assert tables["native"] == tables["python"]


@needs_native
@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=1e3, max_value=1e5), st.text())
def test_json_rows_written_in_rust_spell_values_as_python(x: float, text: str) -> None:
    """The rows written beside the pickled blocks spell floats as repr does (ties to even among the
    shortest digits) and escape texts as json does (ensure_ascii=False)."""
    module = native_module()
    assert module is not None
    text = text.encode("utf-8", "replace").decode()  # Rust text is valid UTF-8: no lone surrogates
    assert module.json_spelling(x, text) == (json.dumps(x), json.dumps(text, ensure_ascii=False))


@needs_native
def test_an_input_the_port_cannot_segment_goes_to_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ComfyUI-Manager's start time with a UTC offset: Python's fromisoformat reads it (an aware time,
    which the segmenter then ignores), the port reads only naive times and refuses the input. The
    input is segmented by Python instead (same JSON), and the fallback is counted with its reason.
    From the corpus's 015 (its startup-time line given an offset)."""
    text = (CORPUS / "logs" / "015-hunyuanvideo-a800.log").read_text(encoding="utf-8")
    line = "** ComfyUI startup time: 2025-02-17 03:03:20.434"
    assert line in text
    path = tmp_path / "aware-start.log"
    path.write_text(text.replace(line, line + "+02:00"), encoding="utf-8")
    fell = assert_same([path], monkeypatch, natively=False)
    assert fell == [(str(path), 'startup time "2025-02-17 03:03:20.434+02:00"')]
    # text (as stdin) cannot be opened again: the blocks read so far are handed over instead
    python, native, fell = _both(path.read_text(encoding="utf-8"), "pasted.log", monkeypatch)
    assert python == native
    assert fell == [("pasted.log", 'startup time "2025-02-17 03:03:20.434+02:00"')]


@needs_native
def test_the_native_segmenter_knows_every_event_kind() -> None:
    """A kind added to events.py and the table must be added to native/src/segment/event.rs too (and
    its handling to mod.rs): until it is, its events hand the input back to Python's segmenter."""
    module = native_module()
    assert module is not None
    assert sorted(module.segmenter_kinds()) == sorted(kind.value for kind in EventKind)


@needs_native
def test_the_native_segmenter_shares_the_python_segmenters_constants() -> None:
    """Bounds a log seldom reaches (20,000 notable events, 1000-character import reasons) are repeated in
    native/src/segment/: changed on one side only, no differential run on a real log would notice."""
    from comfylog.segment import pending, phases
    from comfylog.segment import segmenter as python
    module = native_module()
    assert module is not None
    assert dict(module.segmenter_constants()) == {
        "MAX_ERROR_CHARS": python.MAX_ERROR_CHARS, "MAX_IMPORT_PATH_CHARS": python.MAX_IMPORT_PATH_CHARS,
        "MAX_IMPORT_REASON_CHARS": python.MAX_IMPORT_REASON_CHARS, "MAX_NOTABLE": python.MAX_NOTABLE,
        "MAX_PROMPT_MODELS": python.MAX_PROMPT_MODELS, "MAX_RUN_IMPORT_TIMES": python.MAX_RUN_IMPORT_TIMES,
        "RELEASE_EVERY": python.RELEASE_EVERY, "TAIL_ACTIVITIES": python.TAIL_ACTIVITIES,
        "FOLD_BARS": python.FOLD_BARS, "FOLD_KEEP_S": phases.FOLD_KEEP_S, "SHELF_BLOCK": pending.SHELF_BLOCK,
        "BEFORE_LOG_ACTIVITIES": python.BEFORE_LOG_ACTIVITIES,
        "WS_TIMEOUT_S": phases.WS_TIMEOUT_S, "PLACEMENT_SLACK_S": phases.PLACEMENT_SLACK.total_seconds(),
        "UNTIMED_MIN_S": phases.UNTIMED_MIN_S,
    }


@needs_native
def test_the_segmenter_takes_no_tables_of_another_message_table() -> None:
    """The segmenter's rows and bar table are made once per process for messages.toml's text: a scanner
    of another text (a row's example changed) refuses them rather than type fields by the wrong rows."""
    from comfylog.parse import native

    module = native_module()
    assert module is not None
    other = native.TABLE_TEXT.replace("example = 'gguf qtypes: F32 (2)", "example = 'gguf qtypes: F32 (3)")
    assert other != native.TABLE_TEXT
    from comfylog.segment import pending, phases
    from comfylog.segment import segmenter as python

    blocks = (256, 4096, 4096, 4096, 4096)
    fold = (python.FOLD_BARS, phases.FOLD_KEEP_S, pending.SHELF_BLOCK, python.TAIL_ACTIVITIES)
    segmenting = (native._record_builder(module), native._segmenter_tables(module), 0, 0, 4096, blocks, False, fold)
    module.Scanner(native.TABLE_TEXT, native._item_builder(module), 0, None, segmenting)
    with pytest.raises(ValueError, match="made for another message table"):
        module.Scanner(other, native._item_builder(module), 0, None, segmenting)


def test_the_segmenter_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMFYLOG_SEGMENTER", raising=False)
    assert segmenter() == "native"
    monkeypatch.setenv("COMFYLOG_SEGMENTER", "Python ")
    assert segmenter() == "python"
    monkeypatch.setenv("COMFYLOG_SEGMENTER", "cobol")
    with pytest.raises(SegmenterUnavailable, match="COMFYLOG_SEGMENTER=cobol: the segmenter is native or python"):
        segmenter()
    result = run_cli("--version", text=True)
    assert result.returncode == 2 and "COMFYLOG_SEGMENTER=cobol" in str(result.stderr)


@needs_native
def test_the_rust_segmenter_is_the_default_where_the_native_scanner_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the native scanner's inputs are segmented in Rust, and ``--version`` says so; the Python
    parser's inputs (COMFYLOG_SCANNER=python, and markdown) by Python's segmenter."""
    monkeypatch.delenv("COMFYLOG_SEGMENTER", raising=False)
    monkeypatch.delenv("COMFYLOG_SCANNER", raising=False)
    log = ROOT / "examples" / "runpod-lowvram-gguf.log"
    assert [src.segmenter for src in analyze_paths([str(log)]).sources] == ["native"]
    assert "(scanner native " in str(run_cli("--version", text=True).stdout)
    assert str(run_cli("--version", text=True).stdout).endswith(", segmenter native)\n")
    monkeypatch.setenv("COMFYLOG_SEGMENTER", "python")
    assert [src.segmenter for src in analyze_paths([str(log)]).sources] == ["python"]
    assert str(run_cli("--version", text=True).stdout).endswith(", segmenter python)\n")
    monkeypatch.delenv("COMFYLOG_SEGMENTER")
    monkeypatch.setenv("COMFYLOG_SCANNER", "python")
    assert [src.segmenter for src in analyze_paths([str(log)]).sources] == ["python"]
    assert str(run_cli("--version", text=True).stdout).endswith("(scanner python, segmenter python)\n")


def _both(text: str, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, list[tuple[str, str]]]:
    """``text`` as pasted input through each segmenter; the JSONs and what fell back to Python."""
    outputs = []
    fell: list[tuple[str, str]] = []
    for which in ("python", "native"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SCANNER", "native")
            m.setenv("COMFYLOG_SEGMENTER", which)
            report = analyze_text(text, name)
        outputs.append(render_json(report))
        fell = [(src.name, src.fell_back) for src in report.sources if src.fell_back is not None]
    return outputs[0], outputs[1], fell


@needs_native
def test_a_long_unreopenable_input_is_kept_on_disk_for_its_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stdin or text cannot be opened again: the blocks read before a fallback are handed over, kept in a
    temporary file past REPLAY_MEMORY (memory must not grow with a piped log). 015 with an aware start
    time falls back late (its start-time line is read after the first blocks)."""
    from comfylog import pipeline
    text = (CORPUS / "logs" / "015-hunyuanvideo-a800.log").read_text(encoding="utf-8")
    line = "** ComfyUI startup time: 2025-02-17 03:03:20.434"
    monkeypatch.setattr(pipeline, "REPLAY_MEMORY", 4096)
    python, native, fell = _both(text.replace(line, line + "+02:00"), "pasted.log", monkeypatch)
    assert python == native and [why for _, why in fell] == ['startup time "2025-02-17 03:03:20.434+02:00"']


@needs_native
def test_a_failing_native_segmenter_hands_the_input_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scanner or segmenter error in the Rust path (a panic reaches Python as the scanner's error) is
    a fallback like NotPorted: the input is segmented by Python, the report is the same."""
    from comfylog.parse.native import NativeParser
    feed = NativeParser.feed_records
    calls = []

    def failing(self: NativeParser, block: bytes) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise UnusableInput("input: the segmenter panicked")
        return feed(self, block)

    monkeypatch.setattr(NativeParser, "feed_records", failing)
    text = (CORPUS / "logs" / "038-iamkaikai-rtx3090-1330prompts.log").read_text(encoding="utf-8", errors="replace")
    python, native, fell = _both(text, "pasted.log", monkeypatch)
    assert calls and python == native
    assert fell == [("pasted.log", "failed: input: the segmenter panicked")]


def _overlay_one_by_one(
    segs: list[tuple[datetime, datetime, Phase]], overlays: list[tuple[datetime, datetime, Phase]],
) -> list[tuple[datetime, datetime, Phase]]:
    """The painting phases._overlaid replaced (issue 14): each overlay in turn, the segments copied each time
    (quadratic: 400,000 stamped bars in one prompt did not finish in 10 minutes)."""
    for o0, o1, phase in overlays:
        first = bisect.bisect_right(segs, o0, key=lambda seg: seg[1])
        after = bisect.bisect_left(segs, o1, lo=first, key=lambda seg: seg[0])
        out = segs[:first]
        if first < after and segs[first][0] < o0:
            out.append((segs[first][0], o0, segs[first][2]))
        out.append((o0, o1, phase))
        if first < after and segs[after - 1][1] > o1:
            out.append((o1, segs[after - 1][1], segs[after - 1][2]))
        segs = out + segs[after:]
    return segs


_T0 = datetime(2025, 10, 22)


@settings(max_examples=500, deadline=None)
@given(cuts=st.sets(st.integers(1, 29), max_size=6), empty_last=st.booleans(), phases=st.lists(st.sampled_from(Phase)),
       overlays=st.lists(st.tuples(st.integers(0, 29), st.integers(1, 30), st.sampled_from(Phase)), max_size=10))
def test_painting_the_overlays_at_once_cuts_as_painting_them_one_by_one(
        cuts: set[int], empty_last: bool, phases: list[Phase], overlays: list[tuple[int, int, Phase]]) -> None:
    """The same segments, so the same float sums: on a coarse grid of seconds, where ends and starts meet."""
    from comfylog.segment.phases import _overlaid

    at = [_T0 + timedelta(seconds=s) for s in (0, *sorted(cuts), 30)]
    segs = [(a, b, phases[i % len(phases)] if phases else Phase.OTHER) for i, (a, b) in enumerate(pairwise(at))]
    if empty_last:  # rule 1 leaves one where the prompt ends at the log's first line
        segs.append((at[-1], at[-1], Phase.WAIT))
    painted = [(_T0 + timedelta(seconds=a), _T0 + timedelta(seconds=b), phase) for a, b, phase in overlays if b > a]
    want = [seg for seg in _overlay_one_by_one(segs, painted) if seg[1] > seg[0]]
    assert [seg for seg in _overlaid(segs, painted) if seg[1] > seg[0]] == want


def _overlapping_stamped_bars(count: int) -> str:
    """One prompt of ComfyUI-Manager's stamped lines: sampling bars, and every fifth a library's loading bar, five
    seconds apart, each drawn 0% then 100% on one stamp with an elapsed of 0 to 9 s: one may overlap the next, and
    the loading bars show between the sampling ones."""
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB", "[2025-10-22 00:00:00.000] got prompt"]
    for i in range(count):
        stamp = f"[2025-10-22 {5 * i // 3600:02d}:{5 * i // 60 % 60:02d}:{5 * i % 60:02d}.{i % 10}00]"
        label = "Loading checkpoint shards: " if i % 5 == 2 else ""
        lines += [f"{stamp} {label}  0%|          | 0/4 [00:00<?, ?it/s]",
                  f"{stamp} {label}100%|██████████| 4/4 [00:0{i * 7 % 10}<00:00,  1.{i % 10}it/s]"]
        if i % 50 == 49:
            lines.append(f"{stamp} Requested to load SDXL")
    lines.append(f"[2025-10-22 00:55:00.000] Prompt executed in {5 * count + 300:.2f} seconds")
    return "\n".join(lines) + "\n"


@needs_native
def test_many_overlapping_stamped_bars_paint_as_one_at_a_time_in_both_segmenters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Painting all of a prompt's bars at once (phases._overlaid, phases.rs `overlaid`) gives the segments painting
    them one by one gave, so the same JSON to the last float, in both segmenters."""
    from comfylog.segment import phases as phases_module

    text = _overlapping_stamped_bars(600)
    reports = {}
    for which in ("python", "native", "one by one"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SCANNER", "native")
            m.setenv("COMFYLOG_SEGMENTER", "native" if which == "native" else "python")
            if which == "one by one":
                m.setattr(phases_module, "_overlaid", _overlay_one_by_one)
            reports[which] = analyze_text(text, "bars.log")
    assert reports["native"].sources[0].segmenter == "native"
    jsons = {which: render_json(report) for which, report in reports.items()}
    spans = {which: [(s.start, s.end, s.phase) for s in report.prompts[0].spans] for which, report in reports.items()}
    assert jsons["python"] == jsons["native"] == jsons["one by one"]
    assert spans["python"] == spans["native"] == spans["one by one"]
    phases = reports["python"].prompts[0].phases
    assert len(reports["python"].progress_bars) == 600 and len(spans["python"]) > 200
    assert (phases.load or 0) > 0 and (phases.inference or 0) > 0 and (phases.other or 0) > 0


@needs_native
def test_a_prompt_raising_thousands_of_errors_segments_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both segmenters release the running prompt's older errors alike (all but the incident, those after the
    queue's first line and the last RECENT_ERRORS): 3,000 exceptions in one prompt with prompts queued behind it
    (one rejected at validation, whose record a later line completes), and a prompt that errors after it."""
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB", "Starting server", "got prompt"]
    for i in range(3_000):
        lines += ["!!! Exception during processing !!! boom", "Traceback (most recent call last):",
                  f"RuntimeError: boom {i}"]
        if i == 2_000:
            lines += ["got prompt", "got prompt", "Failed to validate prompt for output 9:",
                      "* CheckpointLoaderSimple 4:", "  - Value not in list: ckpt_name: 'x.safetensors' not in []",
                      "Output will be ignored", "invalid prompt: {'type': 'prompt_outputs_failed_validation'}"]
    lines += ["Prompt executed in 100.00 seconds", "!!! Exception during processing !!! late",
              "RuntimeError: late", "Prompt executed in 1.00 seconds"]
    path = tmp_path / "errors.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same([path], monkeypatch)


_BAR_LABELS = ("", "Loading checkpoint shards: ", "VAE decode: ")
#: What comes between bars, weighted: mostly more bars, load lines and time passing, now and then a queued prompt,
#: the prompt's end (stamped or not), a restart, a stamp going back, a line stamped to the minute, a timeout's wait.
_BETWEEN_BARS = ("bar",) * 12 + ("gap",) * 3 + ("load",) * 2 + ("back", "got prompt", "executed", "bare executed",
                                                                "Starting server", "minute", "wait")


@st.composite
def _stamped_bar_prompts(draw: st.DrawFn) -> str:
    """Prompts of stamped tqdm bars (sampling, loading, other work; drawn a step a line, or cut short) among load
    lines, queued prompts and restarts: a bar's elapsed may reach back over the bars before it, a stamp may go
    back or be missing, a line may be stamped to the minute (untimed), a prompt may end on an unstamped line."""
    lines = ["Total VRAM 24564 MB, total RAM 128000 MB", "Starting server", "[2025-10-22 00:00:00.000] got prompt"]
    ms = got = 0

    def stamp() -> str:
        at = _T0 + timedelta(milliseconds=ms)
        return at.strftime("[%Y-%m-%d %H:%M:%S.%f")[:-3] + "]"

    for _ in range(draw(st.integers(1, 150))):
        op = draw(st.sampled_from(_BETWEEN_BARS))
        if op == "bar":
            total = draw(st.integers(1, 6))
            drawn = draw(st.integers(0, total))
            elapsed = draw(st.sampled_from((0, 0, 0, 1, 3, 9)))
            label = draw(st.sampled_from(_BAR_LABELS))
            step = draw(st.sampled_from((1, 5, 400, 1500)))
            for n in range(drawn + 1):
                shown = elapsed if n == drawn else 0
                rate = "?, ?it/s" if n == 0 else f"00:00, {n / max(shown, 0.5):.2f}it/s"
                text = f"{label}{100 * n // total:3d}%|{'#' * (10 * n // total):10s}| {n}/{total} [00:0{shown}<{rate}]"
                lines.append(text if draw(st.integers(0, 29)) == 0 else f"{stamp()} {text}")
                ms += step
        elif op == "gap":
            ms += draw(st.sampled_from((1, 50, 900, 2500, 12_000)))
        elif op == "back":
            ms = max(0, ms - draw(st.sampled_from((5, 700, 3000))))
        elif op == "load":
            lines += [f"{stamp()} Requested to load SDXL", f"{stamp()} loaded completely 9500.0 4897.05 True"]
            ms += 300
        elif op == "wait":  # a timeout's 10 s wait (phases.WS_TIMEOUT)
            ms += draw(st.sampled_from((3000, 10_000, 14_000)))
            lines.append(f"{stamp()} worker-comfyui - Websocket receive timed out. Still waiting...")
        elif op == "minute":
            lines.append(f"{stamp()[:17]}] Requested to load SDXL")
        elif op == "executed":  # as long as since the first prompt or the last one received (that one ran)
            since = draw(st.sampled_from((0, got)))
            lines.append(f"{stamp()} Prompt executed in {(ms - since) / 1000:.2f} seconds")
        elif op == "bare executed":
            lines.append("Prompt executed in 1.50 seconds")
        else:
            got = ms if op == "got prompt" else got
            lines.append(f"{stamp()} {op}")
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=_stamped_bar_prompts(), every=st.integers(2, 5), keep=st.sampled_from((0.0, 1.0, 10.0)),
       tail=st.integers(1, 4))
def test_painting_bars_as_they_come_paints_as_painting_them_when_the_prompt_ends(
        text: str, every: int, keep: float, tail: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A running prompt's first bars painted before it ends (segmenter._fold_bars, phases.fold; in Rust
    Segmenter::fold_bars, phases::fold), every few bars, give the report painting them all when it ends gave, to
    the last float, span and bar placement, in both segmenters: when a later bar reaches back before the cut, the
    prompt ends before it or untimed, a queued prompt takes its place or a restart takes its last lines back. A
    restart takes back up to TAIL_ACTIVITIES (64) activities: a few here, so that these short prompts fold."""
    import tempfile

    from comfylog.segment import pending as pending_module
    from comfylog.segment import phases as phases_module
    from comfylog.segment import segmenter as segmenter_module

    runs = [("python", every), ("python", 10**9)]
    if native_module() is not None:
        runs.append(("native", every))
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.log"
        path.write_text(text, encoding="utf-8")
        for which, fold_bars in runs:
            with monkeypatch.context() as m:
                m.setenv("COMFYLOG_SCANNER", "native" if which == "native" else "python")
                m.setenv("COMFYLOG_SEGMENTER", which)
                m.setattr(segmenter_module, "FOLD_BARS", fold_bars)
                m.setattr(segmenter_module, "TAIL_ACTIVITIES", tail)
                m.setattr(phases_module, "FOLD_KEEP_S", keep)
                m.setattr(pending_module, "SHELF_BLOCK", 2)  # read back block by block, as a long prompt's are
                report = analyze_paths([str(path)], None, json_rows=True)
            assert [src.segmenter for src in report.sources] == [which]
            reports[which, fold_bars] = report
    whole = reports["python", 10**9]
    for key, folded in reports.items():
        assert render_json(folded) == render_json(whole), key
        assert [[(s.start, s.end, s.phase) for s in p.spans] for p in folded.prompts] == \
            [[(s.start, s.end, s.phase) for s in p.spans] for p in whole.prompts], key
        assert [(b.start, b.end, b.prompt) for b in folded.progress_bars] == \
            [(b.start, b.end, b.prompt) for b in whole.progress_bars], key
