"""`comfylog report`: the HTML page built from real logs, checked as data and in headless Chromium.

The browser tests load each page from a file with every other request aborted (the page must work
offline), and fail on any console error. They skip, with the reason, when Chromium or playwright is
missing; CI installs both (.ci/run, the dev extra).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from comfylog.api import analyze
from comfylog.model import PHASES, Report
from comfylog.render import html as html_render
from comfylog.render.html import render_html

from .cli import run_cli
from .conftest import CORPUS, FIXTURES, ROOT, corpus_log, corpus_or_skip

OUTPUT = ROOT / "tests" / "output" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
HOSTILE = FIXTURES / "hostile-html.log"
SCENARIOS = ["runpod-wan-lowvram-gguf.log", "local-wan-rtx4090-baseline.log", "runpod-wan-oom-restart.log"]
#: Real logs loaded in the browser: minute stamps with errors, a timed log with many prompts, start-up only,
#: no timestamps at all.
BROWSER_LOGS = [
    "005-ninetyfive666-flux-3090-partial.log",
    "020-combatshotgun-rtx5090-flux2.log",
    "026-kostafun-3090-startup-only.log",
    "004-stageposter-rocm-info-prefix.log",
]
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]")


def corpus_logs() -> list[Path]:
    logs = sorted((CORPUS / "logs").glob("*.log")) + [CORPUS / "scenarios" / name for name in SCENARIOS]
    return [p for p in logs if p.is_file()]


def figures(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="comfylog-figures">(.*?)</script>', page, re.S)
    assert match, "figure data block missing"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def section(page: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
    return match.group(1) if match else ""


def bar_seconds(fig: dict[str, Any]) -> dict[str, float]:
    """Seconds drawn per phase on the timeline (bars are ms on a date axis, seconds on a linear one)."""
    scale = 1000.0 if fig["layout"]["xaxis"]["type"] == "date" else 1.0
    out: dict[str, float] = {}
    for trace in fig["data"]:
        if trace["type"] == "bar":
            out[trace["name"]] = out.get(trace["name"], 0.0) + sum(trace["x"]) / scale
    return out


def long_log(source: Path, copies: int) -> bytes:
    """A server that ran for days: the start-up of ``source`` once, then its prompts ``copies`` times over,
    each copy's timestamps moved on by the log's span (bytes kept, bare CRs and all)."""
    lines = source.read_bytes().decode("utf-8", "surrogateescape").splitlines(keepends=True)
    ready = next(i for i, line in enumerate(lines) if "To see the GUI go to" in line) + 1
    head, body = lines[:ready], lines[ready:]
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") for ln in body if (m := STAMP.match(ln))]
    step = stamps[-1] - stamps[0] + timedelta(seconds=1)
    out = head[:]
    for k in range(copies):
        for line in body:
            m = STAMP.match(line)
            if m and k:
                ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f") + step * k
                line = f"[{ts.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}]{line[m.end():]}"
            out.append(line)
    return "".join(out).encode("utf-8", "surrogateescape")


# ---- the page as data (no browser) -----------------------------------------------------------------


@pytest.mark.parametrize("path", corpus_logs(), ids=lambda p: p.name)
def test_page_holds_every_prompt_phase_and_rate(path: Path) -> None:
    """The timeline draws exactly the phase seconds the analysis found; the rate plot one point per bar."""
    corpus_or_skip()
    report = analyze(path)
    page = render_html(report)
    figs = figures(page)
    drawn = [p for p in report.prompts if p.total_s and p.run < html_render.MAX_TIMELINE_ROWS]
    if drawn:
        got = bar_seconds(figs["timeline-plot"])
        for phase in PHASES:
            expected = sum(p.phases.seconds(phase) for p in drawn)
            assert got.get(phase.value, 0.0) == pytest.approx(expected, abs=0.01 * len(drawn) + 0.01), phase
        untimed = sum((p.total_s or 0.0) - p.phases.total for p in drawn)  # what the log cannot time
        assert got.get("not timed", 0.0) == pytest.approx(untimed, abs=0.01 * len(drawn) + 0.01)
        estimated = any(p.estimated for p in drawn)
        assert (figs["timeline-plot"]["layout"]["xaxis"]["type"] == "linear") == estimated
        if estimated:
            assert "end to end, the time between them left out" in section(page, "timeline")
    startup = sum(r.startup_s or 0.0 for r in report.runs if r.index < html_render.MAX_TIMELINE_ROWS)
    if startup and "timeline-plot" in figs and figs["timeline-plot"]["layout"]["xaxis"]["type"] == "date":
        assert bar_seconds(figs["timeline-plot"]).get("start-up", 0.0) == pytest.approx(startup, abs=0.01)
    rated = [b for b in report.progress_bars if b.is_sampling and b.seconds_per_step is not None
             and b.prompt is not None]
    if rated:
        points = sum(len(t["y"]) for t in figs["rates-plot"]["data"])
        assert points == min(len(rated), html_render.MAX_RATE_POINTS)
        points_at = sorted((x, y) for t in figs["rates-plot"]["data"] for x, y in zip(t["x"], t["y"], strict=True))
        assert points_at == sorted(((b.prompt or 0) + 1, round(b.seconds_per_step or 0, 4)) for b in rated)
    rows = max(0, section(page, "prompts").count("<tr>") - 1)
    assert rows == min(len(report.prompts), html_render.MAX_PROMPT_ROWS)
    for run in report.runs[: html_render.MAX_RUN_CARDS]:
        if run.gpu:
            assert html_render.esc(run.gpu) in section(page, "machine")


def test_lowvram_scenario_timeline_shows_the_story() -> None:
    """6:04 of loading, the 3:43 bar and 6 websocket timeouts, on the worker's own clock."""
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    fig = figures(render_html(report))["timeline-plot"]
    assert fig["layout"]["xaxis"]["type"] == "date"
    seconds = bar_seconds(fig)
    assert seconds["load"] == pytest.approx(364, abs=15)
    assert seconds["inference"] == pytest.approx(223, abs=1)
    assert seconds["start-up"] == pytest.approx(19.9, abs=0.1)
    ws = [t for t in fig["data"] if t["name"] == "websocket timeout"]
    assert len(ws) == 1 and len(ws[0]["x"]) == 6
    assert all(x.startswith("2025-10-22 20:5") for x in ws[0]["x"])


def test_restart_scenario_marks_the_restart_and_the_unfinished_prompt() -> None:
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-oom-restart.log")
    fig = figures(render_html(report))["timeline-plot"]
    assert fig["layout"]["yaxis"]["categoryarray"] == ["run 1", "run 2"]
    marks = {t["name"]: t for t in fig["data"] if t["type"] == "scatter"}
    restart = marks["restart (ComfyUI started again)"]
    assert restart["y"] == ["run 2"] and restart["x"][0].startswith("2025-10-23 16:28:14")
    # the silent crash oom-suspected names is marked where it cut the run (the last line of run 1, 46)
    cut = marks["suspected out of memory: the run was cut here"]
    assert cut["y"] == ["run 1"] and cut["x"][0].startswith("2025-10-23 16:28:13")
    assert "prompt did not finish" not in marks


def test_hostile_log_text_is_escaped_everywhere() -> None:
    report = analyze(HOSTILE)
    page = render_html(report)
    data_block = re.search(r'id="comfylog-figures">(.*?)</script>', page, re.S)
    assert data_block is not None
    assert not set("<>&") & set(data_block.group(1)), "figure JSON must carry no raw < > &"
    for raw in ("<script>window.__pwned", "<img src=x", '"><svg onload', "<iframe", "<style>body",
                "<b onmouseover"):
        assert raw not in page
    assert "0.3.62&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;&gt;&lt;img" in page
    assert page.count("<script") == 3  # the data block, plotly.js and the driver: nothing else


def test_a_run_with_nothing_known_of_its_machine_says_so_once() -> None:
    """Launches refused by ComfyUI's argument parser (corpus 037's first lines): no GPU, versions or time in the
    log; the run's card says the GPU is not in the log, as the terminal does, not rows of dashes and "— → —"."""
    page = render_html(analyze([FIXTURES / "args-refused-only.log"]))
    assert "not in the log (none of its start-up lines)" in page
    assert "vram state" not in page and "— →" not in page
    known = render_html(analyze([ROOT / "examples" / "runpod-lowvram-gguf.log"]))
    assert "vram state" in known and "not in the log (none of its start-up lines)" not in known


def test_the_footer_counts_one_partial_load_in_the_singular() -> None:
    """One partial load is "1 partial load", in the terminal's footer and the page's (field9 N6: "1 partial loads")."""
    from io import StringIO

    from rich.console import Console

    from comfylog.render.terminal import render_terminal

    report = analyze([FIXTURES / "flux2-oom-loading-text-encoder.log"])
    out = StringIO()
    render_terminal(report, Console(file=out, width=100))
    assert "1 partial load, 0 lowvram module loads" in out.getvalue() and "1 partial loads" not in out.getvalue()
    assert "1 partial load, 0 lowvram module loads" in render_html(report)


def test_large_log_is_summarised_and_says_so(tmp_path: Path) -> None:
    corpus_or_skip()
    big = tmp_path / "long-lived-server.log"
    big.write_bytes(long_log(CORPUS / "logs" / "020-combatshotgun-rtx5090-flux2.log", 40))
    report = analyze(big)
    assert len(report.prompts) == 46 * 40 and len(report.runs) == 1
    started = time.perf_counter()
    page = render_html(report)
    assert time.perf_counter() - started < 5
    figs = figures(page)
    timeline = figs["timeline-plot"]
    bars = sum(len(t["x"]) for t in timeline["data"] if t["type"] == "bar")
    spans = sum(len(p.spans) for p in report.prompts)
    assert spans > html_render.MAX_TIMELINE_BARS and bars <= html_render.MAX_TIMELINE_BARS
    seconds = bar_seconds(timeline)
    for phase in PHASES:  # busy time keeps its length when binned
        assert seconds.get(phase.value, 0.0) == pytest.approx(sum(p.phases.seconds(phase) for p in report.prompts),
                                                               rel=1e-6, abs=0.5)
    markers = {t["name"]: len(t["x"]) for t in timeline["data"] if t["type"] == "scatter"}
    assert markers["error"] == html_render.MAX_MARKERS_PER_KIND < len(report.errors)
    assert section(page, "prompts").count("<tr>") - 1 == html_render.MAX_PROMPT_ROWS
    notes = section(page, "notes")
    assert "Summarised to keep this page light" in notes
    assert f"first {html_render.MAX_PROMPT_ROWS} of {len(report.prompts)} prompts" in notes
    assert "spans drawn as" in notes and "error markers: 300 of" in notes
    assert len(page) < 8_000_000


def test_baseline_comparison_side_by_side_and_aligned() -> None:
    """The scenario pair from the field report: 7.19x slower, mostly load, both prompts from their start."""
    corpus_or_skip()
    from comfylog.compare import compare_reports

    run = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    base = analyze(CORPUS / "scenarios" / "local-wan-rtx4090-baseline.log")
    page = render_html(run, base, compare_reports(run, base))
    part = section(page, "comparison")
    assert "7.19x slower" in part and "<strong>load</strong>" in part
    assert "111.62 s/it" in part and "38.15 s/it" in part
    fig = figures(page)["comparison-plot"]
    assert fig["layout"]["yaxis"]["categoryarray"] == ["run · prompt 1", "baseline · prompt 1"]
    for label, prompt in (("run · prompt 1", run.prompts[0]), ("baseline · prompt 1", base.prompts[0])):
        for phase in PHASES:
            drawn = sum(x for t in fig["data"] if t["name"] == phase.value
                        for x, y in zip(t["x"], t["y"], strict=True) if y == label)
            assert drawn == pytest.approx(prompt.phases.seconds(phase), abs=0.01), (label, phase)
        starts = [b for t in fig["data"] for b, y in zip(t["base"], t["y"], strict=True) if y == label]
        assert min(starts) == 0  # aligned at the prompt's start
    assert "lowvram" in section(page, "findings") and page.index('id="findings"') < page.index(
        'id="comparison"')


def test_baseline_page_names_the_set_up_differences_compare_names(tmp_path: Path) -> None:
    """``comfylog compare`` lists the set-up differences that can explain the gap (here dynamic VRAM off
    beside on); the page with the same baseline says the same, from the same comparison."""
    run, base = FIXTURES / "dynamic-vram-off-highvram.log", FIXTURES / "lowvram-under-dynamic-vram.log"
    out = tmp_path / "page.html"
    assert run_cli("report", str(run), "--baseline", str(base), "-o", str(out)).returncode == 0
    part = section(out.read_text(encoding="utf-8"), "comparison")
    terminal = " ".join(str(run_cli("compare", str(run), str(base), text=True, columns=400).stdout).split())
    said = "dynamic VRAM: off (no dynamic VRAM line: a flag such as --highvram) in the run, on in the baseline"
    assert "Set-up differences that can explain it:" in terminal and said in terminal
    assert "Set-up differences that can explain it:" in part
    assert re.findall(r'<ul class="setup">(.*?)</ul>', part) == [f"<li>{said} (the two load models differently: "
                                                                 "dynamic VRAM streams weights during sampling, the "
                                                                 "legacy loader moves or offloads them before)</li>"]


def test_baseline_page_escapes_set_up_differences() -> None:
    """The hostile log's ComfyUI version carries a script: as a set-up difference it is text."""
    corpus_or_skip()
    from comfylog.compare import compare_reports

    run, base = analyze(HOSTILE), analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    comparison = compare_reports(run, base)
    assert any("<script>" in d for d in comparison.setup_differences)
    page = render_html(run, base, comparison)
    assert "<li>ComfyUI: 0.3.62&lt;script&gt;window.__pwned=1&lt;/script&gt; in the run, 0.3.62 in the baseline" in (
        section(page, "comparison"))
    assert page.count("<script") == 3


def test_baseline_page_says_what_both_sides_share() -> None:
    """compare's verdict notes (GGUF on both sides, so not the cause) are on the page too."""
    from comfylog.compare import compare_reports

    run = analyze(ROOT / "examples" / "runpod-lowvram-gguf.log")
    base = analyze(ROOT / "examples" / "local-baseline.log")
    comparison = compare_reports(run, base)
    assert comparison.verdict_notes
    part = section(render_html(run, base, comparison), "comparison")
    assert "Both sides load GGUF weights (<code>gguf qtypes</code> on both), so GGUF does not explain the gap." in part


def test_the_baseline_rates_are_capped_as_the_runs_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two long logs pair hundreds of thousands of bars: the baseline's are drawn evenly spaced, at most
    MAX_RATE_POINTS as the run's own (every paired bar made a page of two halves of a 256 MB log peak at 221
    MB), and the page says so."""
    from comfylog.compare import compare_reports

    monkeypatch.setattr(html_render, "MAX_RATE_POINTS", 10)
    run = analyze(corpus_log("012"))
    base = analyze(corpus_log("012"))
    comparison = compare_reports(run, base)
    page = render_html(run, base, comparison)
    paired = {b: r + 1 for b, r in zip(comparison.baseline_prompts, comparison.run_prompts, strict=False)}
    rated = [(paired[b.prompt], round(b.seconds_per_step or 0.0, 4)) for b in base.progress_bars
             if b.is_sampling and b.seconds_per_step is not None and b.prompt in paired]
    assert len(rated) == 134  # 135 bars, one in the unfinished last prompt, which is not paired
    traces = {t["name"]: t for t in figures(page)["rates-plot"]["data"]}
    drawn = list(zip(traces["baseline"]["x"], traces["baseline"]["y"], strict=True))
    assert drawn == [rated[int(i * 13.4)] for i in range(10)]
    assert sum(len(t["x"]) for name, t in traces.items() if name != "baseline") == 10
    assert "10 of 135 bars drawn, evenly spaced; 10 of 134 baseline bars drawn, evenly spaced" in section(page, "rates")


# ---- the command line ------------------------------------------------------------------------------


def test_cli_writes_log_name_html_in_working_directory(tmp_path: Path) -> None:
    result = run_cli("report", str(HOSTILE), cwd=tmp_path, text=True)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "hostile-html.html"
    assert written.is_file()
    assert f"wrote {written}" in result.stderr
    assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_writes_the_page_as_it_is_made_and_no_half_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page goes to the file piece by piece (never one string beside its bytes): the same page
    render_html makes; a failure while writing it leaves no half page behind."""
    log = ROOT / "examples" / "runpod-lowvram-gguf.log"
    result = run_cli("report", str(log), "--no-redact", "-o", "page.html", cwd=tmp_path, text=True)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert page == render_html(analyze(log))
    assert f"({len(page.encode('utf-8')) / 1e6:.1f} MB)" in result.stderr

    def failing(out: Any, *args: Any) -> None:
        out.write("<!DOCTYPE html>\n")
        raise RuntimeError("a bug")

    monkeypatch.setattr(html_render, "write_html", failing)
    result = run_cli("report", str(log), "-o", "broken.html", cwd=tmp_path, text=True)
    assert result.returncode == 3 and "internal error: RuntimeError: a bug" in result.stderr
    assert not (tmp_path / "broken.html").exists()


def test_analyze_format_html_writes_the_report_page(tmp_path: Path) -> None:
    """``analyze --format html`` is what a person tries first: it writes the page ``report`` writes (to -o,
    else <log name>.html), redacted by default as that page is, and never to standard output."""
    log = ROOT / "examples" / "runpod-lowvram-gguf.log"
    result = run_cli("analyze", str(log), "--format", "html", "--no-redact", "-o", "page.html", cwd=tmp_path,
                     text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == render_html(analyze(log))
    result = run_cli("analyze", str(log), "-f", "html", cwd=tmp_path, text=True)
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'runpod-lowvram-gguf.html'}" in result.stderr
    redacted = run_cli("report", str(log), "-o", "by-report.html", cwd=tmp_path, text=True)
    assert redacted.returncode == 0, redacted.stderr
    assert (tmp_path / "runpod-lowvram-gguf.html").read_bytes() == (tmp_path / "by-report.html").read_bytes()
    result = run_cli("analyze", str(log), "-f", "html", "-o", "-", cwd=tmp_path, text=True)
    assert result.returncode == 2 and "the HTML report is a file, not a stream" in result.stderr
    result = run_cli("analyze", str(tmp_path), "-f", "html", cwd=tmp_path, text=True)
    assert result.returncode == 2 and "--format html is one report's page" in result.stderr


def test_cli_refuses_stdout_and_overwriting_its_input(tmp_path: Path) -> None:
    result = run_cli("report", str(HOSTILE), "-o", "-", cwd=tmp_path, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "comfylog: error: -o -: the HTML report is a file, not a stream; name one, e.g. -o report.html")
    copy = tmp_path / "worker.html"
    copy.write_bytes(HOSTILE.read_bytes())
    result = run_cli("report", "worker.html", "-o", str(copy), cwd=tmp_path, text=True)
    assert result.returncode == 2 and "is also an input" in result.stderr
    assert copy.read_bytes() == HOSTILE.read_bytes()
    result = run_cli("report", "missing.log", cwd=tmp_path, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_cli_baseline_writes_the_comparison_or_says_why_not(tmp_path: Path) -> None:
    corpus_or_skip()
    scenarios = CORPUS / "scenarios"
    out = tmp_path / "vs.html"
    result = run_cli("report", str(scenarios / "runpod-wan-lowvram-gguf.log"), "--baseline",
                     str(scenarios / "local-wan-rtx4090-baseline.log"), "-o", str(out), cwd=tmp_path, text=True)
    assert result.returncode == 0, result.stderr
    assert 'id="comparison-plot"' in out.read_text(encoding="utf-8")
    result = run_cli("report", str(scenarios / "runpod-wan-lowvram-gguf.log"), "--baseline",
                     str(CORPUS / "logs" / "026-kostafun-3090-startup-only.log"), "-o", str(out), cwd=tmp_path,
                     text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("comfylog: error: the baseline") and result.stderr.count("\n") == 1


def test_cli_open_hands_the_file_to_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    from typer.testing import CliRunner

    from comfylog.cli import app

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    target = tmp_path / "r.html"
    result = CliRunner().invoke(app, ["report", str(HOSTILE), "-o", str(target), "--open"])
    assert result.exit_code == 0, result.output
    assert opened == [target.resolve().as_uri()]


# ---- in the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole module (launching is the slow part)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); .ci/run installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Viewer:
    """One browser tab that opens reports from disk with the network blocked, recording what the console
    and the network saw. Every report is opened from the same file: with plotly.js at a fixed place in
    the page, Chromium reuses its compiled copy, which makes each page after the first several times faster.
    """

    def __init__(self, browser: Any) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        self.file = OUTPUT / "viewer.html"
        self.url = self.file.resolve().as_uri()
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        if route.request.url == self.url:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def show(self, report: Report, name: str) -> str:
        """Open ``report``; its page is also kept as tests/output/html/NAME.html. Returns the HTML."""
        return self.show_page(render_html(report), name)

    def show_page(self, page: str, name: str) -> str:
        (OUTPUT / f"{name}.html").write_text(page, encoding="utf-8")
        self.file.write_text(page, encoding="utf-8")
        self.errors.clear()
        self.blocked.clear()
        self.page.goto(self.url)
        self.page.wait_for_selector("#timeline-plot .main-svg", state="attached", timeout=60_000)
        return page

    def count(self, selector: str) -> int:
        return int(self.page.eval_on_selector_all(selector, "els => els.length"))


@pytest.fixture(scope="module")
def viewer(browser: Any) -> Iterator[Viewer]:
    view = Viewer(browser)
    yield view
    view.page.close()


def drawn_bars(fig: dict[str, Any]) -> int:
    return sum(1 for t in fig["data"] if t["type"] == "bar" for x in t["x"] if x > 0)


@pytest.mark.parametrize("name", SCENARIOS + BROWSER_LOGS)
def test_report_draws_offline_without_errors(viewer: Viewer, name: str) -> None:
    corpus_or_skip()
    path = CORPUS / ("scenarios" if name in SCENARIOS else "logs") / name
    report = analyze(path)
    html_text = viewer.show(report, path.stem)
    assert viewer.errors == []
    assert viewer.blocked == []
    fig = figures(html_text)["timeline-plot"]
    assert viewer.count("#timeline-plot .main-svg") > 0
    assert viewer.count("#timeline-plot .barlayer .point path") == drawn_bars(fig)
    findings = viewer.page.inner_text("#findings")
    for finding in report.findings:
        assert finding.title.replace("`", "") in findings
        assert finding.why.replace("`", "")[:60] in findings
        for ev in finding.evidence[: html_render.MAX_EVIDENCE]:
            assert ev.text.strip()[:60] in findings
    if any(b.seconds_per_step for b in report.progress_bars if b.is_sampling):
        assert viewer.count("#rates-plot .scatterlayer .point") > 0
    if name == "runpod-wan-lowvram-gguf.log":
        viewer.page.screenshot(path=str(OUTPUT / "runpod-wan-lowvram-gguf.png"), full_page=True)


def test_comparison_page_draws_both_timelines(viewer: Viewer) -> None:
    corpus_or_skip()
    from comfylog.compare import compare_reports

    run = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    base = analyze(CORPUS / "scenarios" / "local-wan-rtx4090-baseline.log")
    page = viewer.show_page(render_html(run, base, compare_reports(run, base)), "lowvram-vs-baseline")
    assert viewer.errors == [] and viewer.blocked == []
    fig = figures(page)["comparison-plot"]
    assert viewer.count("#comparison-plot .barlayer .point path") == drawn_bars(fig)
    assert "7.19x slower" in viewer.page.inner_text("#comparison")


def test_lowvram_scenario_has_findings() -> None:
    """The page shows findings (checked above for every log); this scenario must have some."""
    corpus_or_skip()
    report = analyze(CORPUS / "scenarios" / "runpod-wan-lowvram-gguf.log")
    if not report.findings:
        pytest.skip("the diagnoser (comfylog.diagnose) does not fill report.findings yet")
    page = render_html(report)
    assert 'class="finding ' in section(page, "findings")


def test_hostile_log_runs_no_script_and_shows_the_text(viewer: Viewer) -> None:
    viewer.show(analyze(HOSTILE), "hostile-html")
    page = viewer.page
    assert viewer.errors == [] and viewer.blocked == []
    # Hover every marker and bar so plotly renders the log text in its hover labels too.
    for point in page.query_selector_all("#timeline-plot .point, #rates-plot .point"):
        point.hover(force=True)
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => document.querySelectorAll('[onerror],[onload],[onmouseover],iframe').length") == 0
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.evaluate("() => getComputedStyle(document.body).display") != "none"
    body = page.inner_text("body")
    assert "PWNED-IMG" not in body.replace("document.body.append('PWNED-IMG')", "")
    assert "0.3.62<script>window.__pwned=1</script>" in body
    assert '</script><script>window.__pwned=1</script>"><img src=x onerror=window.__pwned=1>&amp;' in body
    assert "<style>body{display:none}</style>" in body
    page.hover("#rates-plot .scatterlayer .point", force=True)
    hover = page.eval_on_selector("#rates-plot .hoverlayer", "el => el.textContent")
    assert "Sampling <b onmouseover=window.__pwned=1>steps</b>" in hover


def test_a_report_with_its_baseline_reads_as_a_person_would_want_it() -> None:
    """The field report (examples/) with its local baseline: words, line order, both rates, named durations."""
    from comfylog.compare import compare_reports

    run = analyze(ROOT / "examples" / "runpod-lowvram-gguf.log")
    base = analyze(ROOT / "examples" / "local-baseline.log")
    page = render_html(run, base, compare_reports(run, base))
    findings = page.split('<section id="findings">', 1)[1].split("</section>", 1)[0]
    lowvram = findings.split('<div class="finding', 2)[1]
    assert "In figures: partial loads 3" in lowvram and "least offered 128 MB" in lowvram
    assert "load share 56%" in lowvram
    assert "least_offered_mb" not in page and "load_share" not in page
    lines = [int(n) for n in re.findall(r'<span class="ln">(\d+)</span>', lowvram)]
    assert lines == sorted(lines) and lines[:2] == [20, 58]  # the vram state line comes first, as in the log
    assert "The baseline loaded every model completely" in lowvram
    assert "comfylog compare THIS.log" not in page  # the report holds the comparison already
    rates = figures(page)["rates-plot"]
    baseline = next(t for t in rates["data"] if t["name"] == "baseline")
    assert baseline["x"] == [1] and baseline["y"] == [38.15]
    assert "10:51 (printed 10:50)" in page
    assert "as ComfyUI printed them; the prompt tables and timelines show the measured" in page
    vram_row = re.search(r"<tr[^>]*><th>VRAM</th>", page)
    assert vram_row is not None and "warn" not in vram_row.group(0)  # 24217 vs 24564 MB: 1.4% apart


def test_script_text_is_escaped_piece_by_piece_however_it_is_cut() -> None:
    """plotly.js is written a megabyte at a time (never whole: 14 MB at the peak of a long log's page):
    a ``</script`` cut in two by a piece's end is escaped all the same, and nothing else changes."""
    text = "a</script>b</scrip</script</SCRIPT x</script"
    whole = text.replace("</script", "<\\/script")
    for size in range(1, len(text) + 1):
        pieces = [text[i:i + size] for i in range(0, len(text), size)]
        assert "".join(html_render.script_escaped(pieces)) == whole, size
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    assert "".join(html_render._plotly_js()) == get_plotlyjs().replace("</script", "<\\/script")


def test_where_the_time_went_is_summed_as_the_index_reads_the_prompts() -> None:
    # A million prompts at 1 GB, decoded from disk: the terminal and HTML reports take the phase totals, the
    # prompts' seconds and how many were estimated from the sums the index made as it read the prompts for
    # the diagnosis (they read them three times: ~13 s of the 1 GB page), the same as a pass of their own.
    from rich.console import Console

    from comfylog.index import index_of
    from comfylog.render import terminal

    corpus = corpus_or_skip()
    for path in sorted((corpus / "logs").glob("*.log")):
        report = analyze(path)
        assert index_of(report).time_spent() == report.time_spent(), path.name
    report = analyze(corpus_log("009"))
    whole = html_render._phase_totals(report)
    passes: list[int] = []

    class Counted(list):  # type: ignore[type-arg]
        def __iter__(self) -> Iterator[Any]:
            passes.append(1)
            return super().__iter__()

    report.prompts = Counted(report.prompts)  # type: ignore[assignment]
    assert html_render._phase_totals(report) == whole
    Console(file=open(os.devnull, "w")).print(terminal._phases(report))  # noqa: SIM115
    assert passes == []
    assert "5 prompts estimated from the durations" in whole  # 009 has minute stamps only


def test_error_markers_are_the_ones_a_list_of_every_error_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timeline made a marker with its hover text for every error of a run, then drew MAX_MARKERS_PER_KIND of a
    kind evenly spaced: 300,000 exceptions held 150 MB of markers. The errors' markers are columns now and only the
    ones drawn get their text: the same markers, in the same order, as picking from the list of them all."""
    from comfylog.api import analyze_text
    from comfylog.index import index_of

    monkeypatch.setattr(html_render, "MAX_MARKERS_PER_KIND", 7)
    stamp = datetime(2025, 10, 22)
    lines = ["Starting server", "To see the GUI go to: http://127.0.0.1:8188"]
    for i in range(40):  # ComfyUI's execution.py: an exception, an out-of-memory error, an interrupted prompt
        lines.append("got prompt")
        if i % 4 == 0:
            lines += ["Processing interrupted"]
        elif i % 4 == 1:
            lines += ["!!! Exception during processing !!! Allocation on device ", "Traceback (most recent call last):",
                      "torch.OutOfMemoryError: Allocation on device ", "Got an OOM, unloading all loaded models."]
        else:
            lines += [f"!!! Exception during processing !!! boom {i}", "Traceback (most recent call last):",
                      f"RuntimeError: boom {i}"]
        lines.append(f"Prompt executed in {1 + i % 3}.00 seconds")
    report = analyze_text("".join(f"[{(stamp + timedelta(seconds=n)).strftime('%Y-%m-%d %H:%M:%S')}.000] {line}\n"
                                  for n, line in enumerate(lines)))
    index = index_of(report)
    rows, _ = html_render._timeline_rows(report)
    notes: list[str] = []
    found = html_render._cap_markers(index, rows, notes)
    (row,) = rows
    every: dict[str, list[tuple[float, str]]] = {}
    for e in report.errors:  # the markers as made before, one per error of the run
        kind = "oom" if e.kind.startswith("oom") else ("interrupted" if e.kind == "interrupted" else "error")
        where = f" · prompt {e.prompt + 1}" if e.prompt is not None else ""
        hover = f"{e.kind}{where} · {index.lines_ref(e.source, e.line)}<br>{html_render._hover(e.message)}"
        assert e.ts is not None and row.origin is not None
        every.setdefault(kind, []).append(((e.ts - row.origin).total_seconds(), hover))
    assert set(every) == {"oom", "interrupted", "error"} and all(len(v) > 7 for v in every.values())
    for kind, markers in every.items():
        step = len(markers) / 7
        assert [(m.at, m.hover) for _, m in found[kind]] == [markers[int(i * step)] for i in range(7)]
        assert f"{html_render.MARKER_STYLE[kind][0]} markers: 7 of {len(markers)} drawn, evenly spaced" in notes
    assert list(found) == ["interrupted", "oom", "error"]  # the kinds in the order met
