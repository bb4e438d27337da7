"""One long run: the trace and the HTML timeline keep few of its records in memory, and write the same bytes.

A ComfyUI process kept up for days is one run of tens of thousands of prompts. The trace lays a run
out before it writes it (its slices sorted per track, render/external_sort.py) and the timeline bins
a row's spans after it has seen them all (render/html.py, ``_Spans``): both used to hold the whole
run, and grew with its length. Here the sizes held in memory are made small so that a long run made
from a real log goes to disk, and the output must be the bytes the in-memory path writes; and the
memory the writers hold must not grow with the run.
"""

from __future__ import annotations

import gc
import io
import pickle
import re
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfylog.api import analyze
from comfylog.model import Report
from comfylog.render import external_sort
from comfylog.render import html as html_render
from comfylog.render import trace as trace_render
from comfylog.render.external_sort import ExternalSort
from comfylog.render.html import render_html, write_html
from comfylog.render.trace import render_trace, report_trace, write_trace

from .conftest import CORPUS, EXAMPLES, corpus_or_skip
from .test_html_report import long_log

#: A timed log of 46 prompts with errors, repeated as one run (tests/test_html_report.py's long_log).
SERVER_LOG = "020-combatshotgun-rtx5090-flux2.log"
#: Logs whose trace instants come out of order (errors placed after their run's prompts, restarts,
#: estimated loads), minute stamps and no timestamps (estimated rows), several runs.
ODD_LOGS = [
    CORPUS / "logs" / "043-nohaxjsutluck-runpod-restart-loop-6-cuda-banners.log",
    CORPUS / "logs" / "005-ninetyfive666-flux-3090-partial.log",
    CORPUS / "logs" / "004-stageposter-rocm-info-prefix.log",
    CORPUS / "logs" / "035-sjskoko-cudagpu-32gb-oom-interrupts.log",
    CORPUS / "scenarios" / "runpod-wan-oom-restart.log",
    EXAMPLES / "runpod-lowvram-gguf.log",
]


def spill_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sizes that send nearly everything to disk: a few items in memory, blocks of two, merges of two."""
    monkeypatch.setattr(external_sort, "HOLD", 3)
    monkeypatch.setattr(external_sort, "BLOCK", 2)
    monkeypatch.setattr(external_sort, "FAN_IN", 2)
    monkeypatch.setattr(trace_render._StepRates, "HOLD", 3)
    monkeypatch.setattr(html_render._Spans, "CHUNK", 5)


# ---- the sort itself ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.integers(0, 12), max_size=300), hold=st.integers(1, 12), block=st.integers(1, 5),
       fan_in=st.integers(2, 4), ordered=st.booleans())
def test_the_order_is_sorteds_whatever_goes_to_disk(keys: list[int], hold: int, block: int, fan_in: int,
                                                    ordered: bool) -> None:
    if ordered:
        keys.sort()
    items = [(key, position) for position, key in enumerate(keys)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(external_sort, "BLOCK", block)
        patch.setattr(external_sort, "FAN_IN", fan_in)
        ordering: ExternalSort[tuple[int, int]] = ExternalSort(key=lambda item: item[0], hold=hold)
        for item in items:
            ordering.append(item)
        assert len(ordering) == len(items)
        assert list(ordering.drain()) == sorted(items, key=lambda item: item[0])  # ties in the order they came
        assert len(ordering) == 0 and list(ordering.drain()) == []


# ---- the same bytes from disk ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> Report:
    corpus_or_skip()
    path = tmp_path_factory.mktemp("long") / "server-up-for-days.log"
    path.write_bytes(long_log(CORPUS / "logs" / SERVER_LOG, 40))
    report = analyze(str(path))
    assert len(report.runs) == 1 and len(report.prompts) == 46 * 40
    return report


def test_a_long_runs_trace_and_page_are_the_same_bytes_from_disk(long_run: Report,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    trace, page = render_trace(long_run), render_html(long_run)
    spill_early(monkeypatch)
    went_to_disk: list[bool] = []
    drain = ExternalSort.drain

    def noted(self: ExternalSort[object]) -> object:
        went_to_disk.append(self.on_disk)
        return drain(self)

    monkeypatch.setattr(ExternalSort, "drain", noted)
    assert render_trace(long_run) == trace
    assert any(went_to_disk)
    assert render_html(long_run) == page
    # more spans than MAX_TIMELINE_BARS: the row was binned from its spans on disk, and the page says so
    assert re.search(r"run 1: \d+ spans drawn as \d+ bars", page)


@pytest.mark.parametrize("path", ODD_LOGS, ids=lambda p: p.name[:40])
def test_odd_logs_are_the_same_bytes_from_disk(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not path.is_file():
        corpus_or_skip()
        pytest.skip(f"{path.name} missing")
    report = analyze(str(path))
    trace, page = render_trace(report), render_html(report)
    spill_early(monkeypatch)
    assert render_trace(report) == trace
    assert render_html(report) == page


# ---- memory that does not grow with the run ----------------------------------------------------------


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _write_trace(report: Report) -> None:
    write_trace([report_trace(report)], _Discard())


def _peak(write: Callable[[], None]) -> int:
    """The most memory ``write`` held at once (bytes, tracemalloc), its output discarded."""
    tracemalloc.start()
    try:
        write()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_trace_and_timeline_of_a_run_four_times_as_long_hold_no_more(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the trace held every slice of a run (4.7 MB more for 40 copies than for 10 of the log) and
    the timeline every bar of a row with its hover text; now what they hold is bounded by HOLD and the kept
    bars, whatever the run's length."""
    corpus_or_skip()
    monkeypatch.setattr(external_sort, "HOLD", 256)
    monkeypatch.setattr(html_render, "MAX_TIMELINE_BARS", 500)
    monkeypatch.setattr(html_render._Spans, "CHUNK", 1024)
    peaks: dict[str, list[int]] = {"trace": [], "timeline": []}
    for copies in (10, 40):
        path = tmp_path / f"up-{copies}.log"
        path.write_bytes(long_log(CORPUS / "logs" / SERVER_LOG, copies))
        report = analyze(str(path))
        assert len(report.runs) == 1
        peaks["trace"].append(_peak(partial(_write_trace, report)))
        peaks["timeline"].append(_peak(partial(html_render._timeline, html_render.Page(), report)))
        write_html(_Discard(), report)  # and the page is still written whole
    for name, (short, long) in peaks.items():
        assert long - short < 1_000_000, f"{name}: {short} then {long} bytes at the peak"


def test_a_fleet_part_waits_on_disk_and_its_file_goes_once_read() -> None:
    """A fleet trace's parts are all made before the first is written: each is a file, sent between
    processes as its path (a 40 MB one-run log's part held as a list peaked at 245 MB, now 101 MB)."""
    corpus_or_skip()
    path = CORPUS / "logs" / SERVER_LOG
    part = trace_render.log_trace(str(path))
    expected = list(report_trace(analyze(str(path)), per_run=False, name=path.name).events)
    sent = pickle.loads(pickle.dumps(part))  # as map_logs's workers send it
    del part
    gc.collect()  # the sender's copy dropped: the file is the receiver's now
    assert list(sent.events) == expected
    assert not Path(sent.events.path).exists()  # read once, then removed
