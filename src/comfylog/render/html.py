"""The HTML report: one self-contained page (plotly.js inline) to attach to an issue or open offline.

Log text is untrusted. Every string from the log reaches the page either through ``html.escape`` (HTML
text) or inside the JSON data block, whose serialiser escapes ``<``, ``>`` and ``&`` so no log line can
close a script tag; plotly shows hover and legend text with HTML entities decoded as plain text. A
Content-Security-Policy allows only the page's own two scripts (by hash) and no network at all.

Large logs stay responsive: timeline rows are binned when they hold more spans than can be seen, and
markers, rate points and table rows are capped; the page says what was summarised.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.resources
import io
import json
import math
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import field
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, TextIO

from ..dataclass import dataclass
from ..events import EventKind, Phase
from ..index import (
    ReportIndex,
    cancel_notes,
    count_words,
    evidence_in_line_order,
    index_of,
    interrupt_notes,
    lower_bound_notes,
    not_kept_texts,
    not_timed_notes,
    shown_phase,
    span_words,
    status_notes,
    total_text,
)
from ..model import PHASES, ErrorRecord, Finding, ProgressBar, Prompt, Report, Run, span_kind
from ..spool import walk
from ..text import basename, clip, clock, dur, fmt_s, is_time_only, plural, prompts_time_text, signed_dur, when
from ..version import __version__
from .external_sort import ExternalSort
from .styles import PHASE_LABEL as OTHER_LABELS

if TYPE_CHECKING:  # the comparison is only rendered when one was made
    from ..compare import Comparison, Delta

#: Colours of the phases, the same families as the terminal report.
PHASE_COLOUR = {
    "startup": "#9b59b6",
    "idle": "#cfd3d8",
    Phase.LOAD.value: "#e6a23c",
    Phase.INFERENCE.value: "#2e9d57",
    Phase.WAIT.value: "#d64541",
    Phase.OTHER.value: "#4a7fd4",
    "untimed": "#b9bec4",
    "outside": "#3fb0c0",
    "install": "#c0609a",
}
#: Every kind of bar drawn: the phases by their names, and the rest as every output names them (styles.py).
PHASE_LABEL = {"startup": "start-up", "idle": "idle", **{p.value: p.value for p in PHASES}, **OTHER_LABELS}
#: Bounds that keep a page for a huge log light enough for a browser.
MAX_TIMELINE_ROWS = 40
MAX_TIMELINE_BARS = 4000
MIN_ROW_BARS = 150
MAX_MARKERS_PER_KIND = 300
MAX_RATE_POINTS = 3000
MAX_RATE_TRACES = 8
MAX_PROMPT_ROWS = 300
MAX_ERROR_ROWS = 200
MAX_RUN_CARDS = 6
MAX_EVIDENCE = 25
MAX_TEXT = 300
MAX_HOVER_TEXT = 200
#: Plotly's config: no logo, no link to the cloud, a PNG button that works offline.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False, "showSendToCloud": False}

DRIVER_JS = """\
(function () {
  var data = JSON.parse(document.getElementById("comfylog-figures").textContent);
  Object.keys(data).forEach(function (id) {
    var el = document.getElementById(id);
    if (el && window.Plotly) {
      var fig = data[id];
      Plotly.newPlot(el, fig.data, fig.layout, fig.config);
    }
  });
})();
"""

CSS = """\
:root { --fg:#1d232a; --muted:#5f6b76; --line:#e3e7eb; --bg:#ffffff; --soft:#f5f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
header h1 { font-size: 22px; margin: 0 0 2px; }
header .sources { color: var(--muted); margin: 0 0 6px; word-break: break-all; }
header .summary { margin: 0; font-size: 15px; }
nav { margin: 12px 0 4px; display: flex; gap: 14px; flex-wrap: wrap; font-size: 13px; }
nav a { color: #2c6db5; text-decoration: none; }
section { margin-top: 26px; }
h2 { font-size: 17px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; }
.note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.warn { color: #9a5b00; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.finding { border: 1px solid var(--line); border-left: 5px solid #8c98a4; border-radius: 6px; padding: 10px 14px;
  margin: 0 0 12px; background: var(--bg); }
.finding.error { border-left-color: #c0392b; }
.finding.warning { border-left-color: #e6a23c; }
.finding.info { border-left-color: #4a7fd4; }
.finding .meta { color: var(--muted); font-size: 12.5px; margin: 2px 0 6px; }
.finding p { margin: 4px 0; }
.finding ul.advice { margin: 4px 0 6px 18px; padding: 0; }
.badge { display: inline-block; font-size: 11px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
  padding: 1px 6px; border-radius: 4px; margin-right: 6px; color: #fff; background: #8c98a4; vertical-align: 1px; }
.badge.error { background: #c0392b; } .badge.warning { background: #d68910; } .badge.info { background: #4a7fd4; }
.evidence { background: var(--soft); border-radius: 4px; padding: 6px 8px; margin: 6px 0 0; overflow-x: auto; }
.evidence div { font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre; }
.evidence .ln { color: var(--muted); display: inline-block; min-width: 7ch; text-align: right; margin-right: 10px; }
.figures { font-size: 12.5px; color: var(--muted); margin: 4px 0; }
.plot { width: 100%; min-height: 200px; }
.phasebar { display: inline-block; height: 12px; border-radius: 2px; vertical-align: middle; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: 0; }
.status-ok { color: #2e7d32; } .status-error, .status-unfinished { color: #c0392b; font-weight: 600; }
.status-interrupted { color: #9a5b00; } .status-invalid { color: #8e44ad; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.msg { max-width: 760px; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 14px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card h3 { margin-bottom: 6px; }
table.facts { width: 100%; }
table.facts th { width: 9.5em; font-weight: 600; }
table.facts td { word-break: break-word; }
table.facts tr:last-child th, table.facts tr:last-child td { border-bottom: none; }
h3.sub { margin: 18px 0 4px; }
.cols table { width: 100%; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
@media (max-width: 800px) { .cols { grid-template-columns: 1fr; } }
"""


def esc(value: object) -> str:
    """HTML text (and attribute values) from anything, the log's own text included."""
    return html.escape(str(value), quote=True)


def script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element: no ``<``, ``>`` or ``&`` survives unescaped."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


CODE_SPAN = re.compile(r"`([^`\n]+)`")


def prose(text: str) -> str:
    """Finding text as HTML: escaped, with its `code spans` (commands, log phrases) set in monospace."""
    return CODE_SPAN.sub(r"<code>\1</code>", esc(text))


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return clip(text, limit)


def _hover(text: str, limit: int = MAX_HOVER_TEXT) -> str:
    """Log text for a plotly hover or legend: entities, which plotly shows as the characters they name."""
    return esc(_clip(text, limit))


def _plot_date(ts: datetime) -> str:
    """Plotly date strings: naive wall time as logged, millisecond precision."""
    return ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


# ---- the page --------------------------------------------------------------------------------------


@dataclass
class Page:
    """What the sections add up to: HTML parts, plotly figures by element id, and notes on summarising."""

    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (id, title, html)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    summarised: list[str] = field(default_factory=list)

    def add(self, section_id: str, title: str, body: str) -> None:
        self.sections.append((section_id, title, body))


def render_html(report: Report, baseline: Report | None = None, comparison: Comparison | None = None) -> str:
    """The whole report as one HTML document (write_html), as a string."""
    out = io.StringIO()
    write_html(out, report, baseline, comparison)
    return out.getvalue()


def write_html(
    out: TextIO, report: Report, baseline: Report | None = None, comparison: Comparison | None = None
) -> None:
    """Write the whole report as one HTML document, plotly.js included inline (works with no network), piece
    by piece: the page is never one string beside its pieces (and its bytes), 20 MB at a long log's peak.

    With ``baseline`` and its ``comparison`` (compare.compare_reports), the page adds the two side by
    side and both prompts' timelines aligned at their start.
    """
    page = Page()
    page.add("findings", "Findings", _findings(report, comparison.run_findings if comparison else None))
    if baseline is not None and comparison is not None:
        _comparison(page, report, baseline, comparison)
    page.add("machine", "Machine", _machine(report, page))
    if report.prompts or any(r.startup_s or r.outside_s or r.install_s for r in report.runs):
        page.add("time", "Where the time went", _phase_totals(report))
    _timeline(page, report)
    _rates(page, report, baseline, comparison)
    if report.prompts:
        page.add("prompts", "Prompts", _prompt_table(report, page))
    if report.errors:
        page.add("errors", "Errors", _error_table(report, page))
    page.add("notes", "About this report", _about(report, page))

    figures = script_json(page.figures)
    page.figures = {}
    _write_document(out, report, page, figures)


def _write_document(out: TextIO, report: Report, page: Page, figures_json: str) -> None:
    names = ", ".join(src.name for src in report.sources) or "log"
    hashes = " ".join(f"'sha256-{_sha256(js)}'" for js in (_plotly_js(), (DRIVER_JS,)))
    csp = (
        "default-src 'none'; "
        f"script-src {hashes}; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
        "connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
    )
    nav = " ".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, _ in page.sections)
    # plotly.js comes first, after a head that is the same for every report: the browser can then
    # reuse its compiled copy when a report is regenerated at the same path and opened again.
    out.write("<!DOCTYPE html>\n"
              '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
              "<script>")
    for piece in _plotly_js():
        out.write(piece)
    out.write("</script>\n"
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              f'<meta name="generator" content="comfylog {esc(__version__)}">\n'
              f"<title>comfylog — {esc(_clip(names, 120))}</title>\n"
              f"<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n"
              f"{_header(report)}\n<nav>{nav}</nav>\n")
    for i, (sid, title, content) in enumerate(page.sections):
        if i:
            out.write("\n")
        out.write(f'<section id="{sid}">\n<h2>{esc(title)}</h2>\n{content}\n</section>')
    out.write('\n</main>\n<script type="application/json" id="comfylog-figures">')
    out.write(figures_json)
    out.write(f"</script>\n<script>{DRIVER_JS}</script>\n</body>\n</html>\n")


def _sha256(pieces: Iterable[str]) -> str:
    """The SHA-256 in base64 of the text made of ``pieces``."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece.encode("utf-8"))
    return base64.b64encode(digest.digest()).decode("ascii")


#: ``</script`` in plotly.js would close its element early: written as ``<\\/script``.
SCRIPT_END = "</script"


def _plotly_js() -> Iterator[str]:
    """plotly.js as the page holds it (plotly.offline.get_plotlyjs's file), a megabyte at a time: read whole,
    it is 4.6 MB of bytes, then of text, then of escaped text (14 MB at the peak of a long log's page)."""
    js = importlib.resources.files("plotly").joinpath("package_data").joinpath("plotly.min.js")
    with io.TextIOWrapper(js.open("rb"), encoding="utf-8") as text:
        yield from script_escaped(iter(lambda: text.read(1 << 20), ""))


def script_escaped(pieces: Iterable[str]) -> Iterator[str]:
    """The text of ``pieces`` with every ``</script`` written ``<\\/script``, piece by piece (one cut in two by
    the pieces' ends included): script text that never closes its own element early."""
    held = ""
    for piece in pieces:
        held += piece
        # the end may be the start of ``</script`` cut in two: kept for the next piece
        keep = next((k for k in range(min(len(SCRIPT_END) - 1, len(held)), 0, -1)
                     if SCRIPT_END.startswith(held[-k:])), 0)
        yield held[:len(held) - keep].replace(SCRIPT_END, "<\\/script")
        held = held[len(held) - keep:]
    yield held


def _header(report: Report) -> str:
    s = report.summary
    names = ", ".join(src.name for src in report.sources)
    bits = [
        f"{plural(s.got_prompt, 'prompt')} received",
        f"{s.executed} executed",
        plural(len(report.runs), "run"),
    ]
    if s.restarts:
        bits.append(f"<strong class=\"warn\">{plural(s.restarts, 'restart')}</strong>")
    if report.errors:
        bits.append(plural(len(report.errors), "error"))
    bits.append(esc(span_words(report)))
    return (
        "<header>\n<h1>comfylog report</h1>\n"
        f'<p class="sources">{esc(_clip(names, 400))}</p>\n'
        f'<p class="summary">{" · ".join(bits)}</p>\n</header>'
    )


# ---- findings --------------------------------------------------------------------------------------


def _findings(report: Report, findings: list[Finding] | None = None) -> str:
    """The findings; beside a baseline, as they read there (compare.Comparison.run_findings)."""
    shown = report.findings if findings is None else findings
    if not shown:
        return '<p class="note">No findings.</p>'
    return "\n".join(_finding(f, report) for f in shown)


def _finding(f: Finding, report: Report) -> str:
    severity = f.severity if f.severity in ("error", "warning", "info") else "info"
    meta = [f"{esc(f.confidence)} confidence", f"<code>{esc(f.id)}</code>"]
    if f.cost_s:
        meta.insert(0, f"explains {esc(fmt_s(f.cost_s))}")
    if f.prompts:
        shown = ", ".join(str(i + 1) for i in f.prompts[:12]) + (" …" if len(f.prompts) > 12 else "")
        not_listed = f.figures.get("prompts_not_listed")  # the finding lists a few of them (diagnose/engine.py)
        if isinstance(not_listed, int):
            shown += f" ({len(f.prompts) + not_listed:,} in all)"
        meta.append(f"prompt{'s' if len(f.prompts) > 1 else ''} {esc(shown)}")
    parts = [
        f'<div class="finding {severity}">',
        f'<h3><span class="badge {severity}">{esc(f.severity)}</span>{prose(f.title)}</h3>',
        f'<div class="meta">{" · ".join(meta)}</div>',
        f"<p>{prose(f.why)}</p>",
    ]
    if f.advice:
        parts.append('<ul class="advice">' + "".join(f"<li>{prose(a)}</li>" for a in f.advice) + "</ul>")
    words = figures_in_words(f.figures)
    if words:
        parts.append(f'<div class="figures">In figures: {esc(words)}</div>')
    if f.evidence:
        index = index_of(report)
        rows = []
        for ev in evidence_in_line_order(f)[:MAX_EVIDENCE]:
            where = index.line_label(ev.source, ev.line)
            rows.append(f'<div><span class="ln">{esc(where)}</span>{esc(_clip(ev.text, 400))}</div>')
        more = max(f.evidence_total, len(f.evidence)) - min(len(f.evidence), MAX_EVIDENCE)
        if more > 0:
            rows.append(f'<div><span class="ln"></span>… and {more} more such line{"s" if more > 1 else ""}</div>')
        parts.append('<div class="evidence" title="log lines this finding rests on">' + "".join(rows) + "</div>")
    parts.append("</div>")
    return "\n".join(parts)


#: Unit suffixes of figure names, and how their values read: the longest first (``mb_per_s`` is a rate, not
#: seconds; alone it is the figure's whole name, said as "rate").
FIGURE_UNITS: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("mb_per_s", lambda v: f"{v:,.0f} MB/s"), ("_per_s", lambda v: f"{v:,.0f}/s"), ("_mb", lambda v: f"{v:,.0f} MB"),
    ("_mib", lambda v: f"{v:,.0f} MiB"), ("_s", fmt_s),
    ("_share", lambda v: f"{v:.0%}"),
)


def figures_in_words(figures: dict[str, Any]) -> str:
    """A finding's figures as a reader says them: ``least offered 128 MB · load share 56%``, never
    ``least_offered_mb: 128 · load_share: 0.559``."""
    return " · ".join(_say(key, value) for key, value in list(figures.items())[:20]
                      if value is not None and value != {} and value != [])


def _say(key: str, value: Any) -> str:
    """``least_offered_mb``, 128.0 -> ``least offered 128 MB``."""
    name, unit = str(key), None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for suffix, show in FIGURE_UNITS:
            if name.endswith(suffix):
                name, unit = name[: -len(suffix)] + (" share" if suffix == "_share" else ""), show
                break
    said = name.replace("_", " ").strip() or "rate"
    return f"{said} {unit(float(value)) if unit else _figure_value(value)}"


def _figure_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, dict):
        return ", ".join(_say(k, v) for k, v in list(value.items())[:12])
    if isinstance(value, (list, tuple)):
        return ", ".join(_figure_value(v) for v in value[:12])
    return _clip(str(value), 200)


# ---- machine and totals ----------------------------------------------------------------------------


def _machine(report: Report, page: Page) -> str:
    if not report.runs:
        return '<p class="note">No ComfyUI run found in the log.</p>'
    several_sources = len(report.sources) > 1
    index = index_of(report)
    cards = []
    for run in report.runs[:MAX_RUN_CARDS]:
        versions = run.versions()
        vram = f"{run.total_vram_mb} MB" if run.total_vram_mb is not None else "—"
        if run.vram_placeholder():
            vram = f"not known (DirectML prints a fixed {run.total_vram_mb} MB)"
        if run.total_ram_mb is not None:
            vram += f" · RAM {run.total_ram_mb} MB"
        span = f"{when(run.started_at)} → {clock(run.ended_at)}"
        if run.span_s is not None:
            span += f" ({fmt_s(run.span_s)})"
        known = run.machine_named()
        if known:
            facts = [("GPU", run.gpu or "—"), ("VRAM", vram), ("vram state", ", ".join(run.vram_states) or "—")]
        else:  # as the terminal says it: one line, not rows of dashes
            facts = [("GPU", "not in the log (none of its start-up lines)")]
        if run.gpu_memory:
            facts.append(("GPU memory", f"{run.gpu_memory['free_mib']} of {run.gpu_memory['total_mib']} MiB free "
                                        "before start"))
        if known:
            facts.append(("versions", ", ".join(versions) or "—"))
        if run.started_at is not None or run.ended_at is not None:
            facts.append(("time", span))
        if run.startup_s is not None or run.idle_s is not None:
            startup = "not known (the log starts at its end)" if run.startup_not_in_log() else fmt_s(run.startup_s)
            facts.append(("start-up · idle", f"{startup} · {fmt_s(run.idle_s)}"))
        if run.outside_s:
            facts.append(("outside prompts", f"{fmt_s(run.outside_s)} loading and sampling with no prompt running"))
        if run.install_s:
            facts.append(("installing", f"{fmt_s(run.install_s)} ComfyUI-Manager installing custom nodes or "
                                         "models (with no prompt running)"))
        failed = (index.failed_imports_text(run) or "").replace("`", "")  # with the nodes only a line names
        if run.import_times:
            slowest = max(run.import_times, key=lambda t: t[0])
            nodes = (f"{run.imports_listed - run.failed_imports} imported, slowest {dur(slowest[0])} "
                     f"({basename(slowest[1])})")
            facts.append(("custom nodes", nodes + (f", {failed}" if failed else "")))
        elif failed:
            facts.append(("custom nodes", failed))
        if several_sources and run.source < len(report.sources):
            facts.append(("log", report.sources[run.source].name))
        title = f"Run {run.index + 1}" + (' <span class="warn">(after a restart)</span>' if run.restart else "")
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
        cards.append(f'<div class="card"><h3>{title}</h3><table class="facts">{rows}</table></div>')
    note = ""
    if len(report.runs) > MAX_RUN_CARDS:
        hidden = len(report.runs) - MAX_RUN_CARDS
        note = f'<p class="note">{hidden} more runs not listed here (they are on the timeline).</p>'
        page.summarised.append(f"machine: first {MAX_RUN_CARDS} of {len(report.runs)} runs listed")
    return f'<div class="cards">{"".join(cards)}</div>{note}'


def _phase_totals(report: Report) -> str:
    """Where the time went: a phase no prompt could time is "—, not timed" with no share (never 0.0s 0%)."""
    spent = index_of(report).time_spent()  # summed as the index read the prompts
    rows = spent.rows
    whole = sum(seconds or 0.0 for _, seconds in rows) or 1.0
    out = ['<table><tr><th>phase</th><th class="num">time</th><th class="num">share</th><th></th></tr>']
    for name, seconds in rows:
        label = f'<td><span class="swatch" style="background:{PHASE_COLOUR[name]}"></span>{PHASE_LABEL[name]}</td>'
        if seconds is None:
            out.append(f'<tr>{label}<td class="num">{esc(fmt_s(None))}</td><td class="num"></td>'
                       '<td class="note">not timed</td></tr>')
            continue
        share = seconds / whole
        width = max(0.0, share * 360)
        out.append(
            f'<tr>{label}'
            f'<td class="num">{esc(fmt_s(seconds))}</td><td class="num">{share:.0%}</td>'
            f'<td><span class="phasebar" style="width:{width:.0f}px;background:{PHASE_COLOUR[name]}"></span></td></tr>'
        )
    out.append("</table>")
    estimated = spent.estimated
    note = (prompts_time_text(spent.prompt_seconds, spent.without_total, spent.before_log, spent.without_total_s)
            + "; every second counted once")
    if estimated:
        note += f"; {plural(estimated, 'prompt')} estimated from the durations the log prints (no usable timestamps)"
    out.append(f'<p class="note">{esc(note)}</p>')
    return "\n".join(out)


# ---- the timeline ----------------------------------------------------------------------------------


@dataclass
class _Bar:
    start: float  # seconds from the row's origin
    end: float
    kind: str  # a PHASE_COLOUR key
    hover: str


@dataclass
class _Marker:
    at: float
    kind: str
    hover: str


#: The marker kinds of errors (_error_kind), as codes of a row's ``errors`` columns.
ERROR_MARKERS = ("oom", "interrupted", "error")


class _ErrorMarkers:
    """A row's markers of errors as columns (kind, x, the error's position in its table), without their hover
    text: a run may log 300,000 errors, where a marker with its text is about 0.4 kB; the ones drawn
    (_cap_markers, at most MAX_MARKERS_PER_KIND of a kind) get their text from their records then."""

    __slots__ = ("kinds", "ats", "positions")

    def __init__(self) -> None:
        self.kinds = bytearray()
        self.ats = array("d")
        self.positions = array("q")

    def add(self, kind: str, at: float, position: int) -> None:
        self.kinds.append(ERROR_MARKERS.index(kind))
        self.ats.append(at)
        self.positions.append(position)


class _Spans:
    """A row's busy bars (not idle) as they were made, as columns (start, end, kind; 17 bytes a bar), on a
    temporary file past CHUNK: the idle sweep and the binning read them again, where one run kept up for days
    has hundreds of thousands (as bars with their hover text, or decoded again from its prompts, they cost
    memory or a pass over the run's table)."""

    CHUNK = 1 << 16
    KINDS = tuple(PHASE_COLOUR)
    CODES = {kind: code for code, kind in enumerate(KINDS)}

    def __init__(self) -> None:
        self._starts, self._ends, self._kinds = array("d"), array("d"), array("B")
        self._file: IO[bytes] | None = None
        self._chunks: list[int] = []  # bars in each chunk on the file, in order
        self.in_start_order = True  # starts never go back
        self.in_span_order = True  # nor (start, end) pairs: the order of covered time
        self._last_start = self._last_end = -math.inf

    def append(self, start: float, end: float, kind: str) -> None:
        if start <= self._last_start:
            if start < self._last_start:
                self.in_start_order = self.in_span_order = False
            elif end < self._last_end:
                self.in_span_order = False
        self._last_start, self._last_end = start, end
        self._starts.append(start)
        self._ends.append(end)
        self._kinds.append(self.CODES[kind])
        if len(self._starts) >= self.CHUNK:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="comfylog-spans-")
            self._file.seek(0, 2)
            for column in (self._starts, self._ends, self._kinds):
                column.tofile(self._file)
            self._chunks.append(len(self._starts))
            self._starts, self._ends, self._kinds = array("d"), array("d"), array("B")

    def __iter__(self) -> Iterator[tuple[float, float, str]]:
        """(start, end, kind) of each bar, in the order they were made."""
        offset = 0
        kinds = self.KINDS
        for count in self._chunks:
            assert self._file is not None
            self._file.seek(offset)
            starts, ends, codes = array("d"), array("d"), array("B")
            for column in (starts, ends, codes):
                column.fromfile(self._file, count)
            offset = self._file.tell()
            for start, end, code in zip(starts, ends, codes, strict=True):
                yield start, end, kinds[code]
        for start, end, code in zip(self._starts, self._ends, self._kinds, strict=True):
            yield start, end, kinds[code]

    def close(self) -> None:
        """Let go of the columns and their file: the row is drawn."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._chunks = []
        self._starts, self._ends, self._kinds = array("d"), array("d"), array("B")

    def covered(self) -> Iterator[tuple[float, float]]:
        """(start, end) of each bar, sorted."""
        if self.in_span_order:
            return ((start, end) for start, end, _ in self)
        ordered: ExternalSort[tuple[float, float]] = ExternalSort()
        for start, end, _ in self:
            ordered.append((start, end))
        return ordered.drain()

    def by_start(self) -> Iterator[tuple[float, float, str]]:
        """The bars in start order, a stable sort (as ``list.sort`` by start)."""
        if self.in_start_order:
            return iter(self)
        ordered: ExternalSort[tuple[float, float, str]] = ExternalSort(itemgetter(0))
        for bar in self:
            ordered.append(bar)
        return ordered.drain()


@dataclass
class _Row:
    """One run's row of the timeline. Its bars are kept while there are at most MAX_TIMELINE_BARS (more are
    binned whatever the budget); the busy ones also as columns (``spans``), which binning reads."""

    run: Run
    label: str
    origin: datetime | None  # wall time of x = 0 (None: estimated, prompts back to back)
    bars: list[_Bar] = field(default_factory=list)
    markers: list[_Marker] = field(default_factory=list)
    #: The markers of its errors, which come after ``markers[:errors_after]`` and before the rest.
    errors: _ErrorMarkers = field(default_factory=_ErrorMarkers)
    errors_after: int = 0
    end: float = 0.0
    estimated: bool = False
    binned_from: int = 0
    spans: _Spans = field(default_factory=_Spans)
    count: int = 0  # bars made, idle ones included
    first_start: float = 0.0  # the least start of a bar
    last_end: float = 0.0  # the end of the bar drawn last in start order (of those starting last, the last made)
    _latest: float = -math.inf

    def add(self, start: float, end: float, kind: str, hover: Callable[[], str]) -> None:
        """A bar, its hover text made only while the row's bars are kept."""
        self.count += 1
        if self.count <= MAX_TIMELINE_BARS:
            self.bars.append(_Bar(start, end, kind, hover()))
        elif self.bars:
            self.bars = []  # binned whatever the budget, from its spans
        if self.count == 1 or start < self.first_start:
            self.first_start = start
        if start >= self._latest:
            self._latest, self.last_end = start, end
        if kind != "idle":
            self.spans.append(start, end, kind)


MARKER_STYLE = {
    "restart": ("restart (ComfyUI started again)", "triangle-right", "#8e1b10", 15),
    "oom": ("out of memory", "x", "#8e1b10", 13),
    "error": ("error", "x", "#c0392b", 11),
    "interrupted": ("interrupted", "square-open", "#9a5b00", 10),
    "unfinished": ("prompt did not finish", "line-ns-open", "#c0392b", 22),
    "oom-suspected": ("suspected out of memory: the run was cut here", "x-thin-open", "#8e1b10", 18),
    "websocket": ("websocket timeout", "circle", "#7b1d16", 9),
}


def _timeline(page: Page, report: Report) -> None:
    rows, clock = _timeline_rows(report)
    if not rows:
        page.add(
            "timeline",
            "Timeline",
            '<p class="note">No timeline: the log has neither timestamps nor printed prompt durations.</p>',
        )
        return
    notes: list[str] = []
    if len(report.runs) > MAX_TIMELINE_ROWS:
        notes.append(f"first {MAX_TIMELINE_ROWS} of {len(report.runs)} runs drawn")
    budget = max(MIN_ROW_BARS, MAX_TIMELINE_BARS // len(rows))
    for row in rows:
        if row.count > budget:
            row.binned_from = row.count
            row.bars = _bin(row.spans.by_start(), row.first_start, max(row.end, row.last_end), budget)
            notes.append(
                f"{row.label}: {row.binned_from} spans drawn as {len(row.bars)} bars "
                "(busy seconds summed per phase in equal stretches of the row, drawn over one idle bar)"
            )
        row.spans.close()
    markers = _cap_markers(index_of(report), rows, notes)
    page.summarised += [f"timeline: {n}" for n in notes]

    traces: list[dict[str, Any]] = []
    labels = [row.label for row in rows]
    for kind in ("idle", "startup", "install", "load", "inference", "wait", "other", "untimed"):  # later on top
        ys: list[str] = []
        bases: list[Any] = []
        xs: list[float] = []
        hovers: list[str] = []
        for row in rows:
            for bar in row.bars:
                if bar.kind != kind:
                    continue
                ys.append(row.label)
                if clock and row.origin is not None:
                    bases.append(_plot_date(row.origin + timedelta(seconds=bar.start)))
                    xs.append(round((bar.end - bar.start) * 1000.0, 1))
                else:
                    bases.append(round(bar.start, 3))
                    xs.append(round(bar.end - bar.start, 3))
                hovers.append(bar.hover)
        if not ys:
            continue
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": PHASE_LABEL[kind],
                "y": ys,
                "x": xs,
                "base": bases,
                "marker": {"color": PHASE_COLOUR[kind], "line": {"width": 0}},
                "hovertext": hovers,
                "hoverinfo": "text",
                "width": 0.6,
            }
        )
    for kind, found in markers.items():
        name, symbol, colour, size = MARKER_STYLE[kind]
        xs_m: list[Any] = []
        ys_m, hovers_m = [], []
        for row, marker in found:
            ys_m.append(row.label)
            if clock and row.origin is not None:
                xs_m.append(_plot_date(row.origin + timedelta(seconds=marker.at)))
            else:
                xs_m.append(round(marker.at, 3))
            hovers_m.append(marker.hover)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": xs_m,
                "y": ys_m,
                "hovertext": hovers_m,
                "hoverinfo": "text",
                "marker": {
                    "symbol": symbol,
                    "color": "#ffffff" if kind == "websocket" else colour,
                    "size": size,
                    "line": {"width": 2, "color": colour},
                },
            }
        )
    time_only = any(r.origin is not None and is_time_only(r.origin) for r in rows)
    if clock:
        xaxis: dict[str, Any] = {"type": "date"}
        if time_only:
            xaxis["tickformat"] = "%H:%M:%S"
    else:
        xaxis = {"type": "linear", "title": {"text": "seconds from the start of each run"}, "rangemode": "tozero"}
    layout = {
        "barmode": "overlay",
        "height": min(1400, 150 + 52 * len(rows)),
        "margin": {"l": 90, "r": 20, "t": 36, "b": 50},
        "xaxis": xaxis,
        "yaxis": {"type": "category", "autorange": "reversed", "categoryorder": "array", "categoryarray": labels},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "hovermode": "closest",
        "plot_bgcolor": "#ffffff",
        "bargap": 0.3,
    }
    page.figures["timeline-plot"] = {"data": traces, "layout": layout, "config": PLOTLY_CONFIG}
    explain = []
    if clock:
        explain.append("Each row is one ComfyUI process lifetime (a run), on the log's own clock.")
    else:
        explain.append("Each row is one run, measured from its own start.")
    if any(row.estimated for row in rows):
        explain.append(
            "Runs without usable timestamps (none, or minute-only) show their prompts end to end, the time "
            "between them left out, each split by the durations the log prints: an estimate, not a clock."
        )
    explain.append(
        "Markers: restarts, out-of-memory and other errors, websocket timeouts, prompts that never finished."
    )
    body = '<div id="timeline-plot" class="plot"></div>\n' + f'<p class="note">{esc(" ".join(explain))}</p>'
    if notes:
        body += f'\n<p class="note warn">Summarised: {esc("; ".join(notes))}.</p>'
    page.add("timeline", "Timeline", body)


def _timeline_rows(report: Report) -> tuple[list[_Row], bool]:
    """Rows for the runs that have something to draw, and whether they share one wall clock."""
    index = index_of(report)
    candidates: list[_Row] = []
    for run in report.runs[:MAX_TIMELINE_ROWS]:
        label = f"run {run.index + 1}"
        timed = _timed_row(index, run, label) if run.started_at is not None and run.ended_at is not None else None
        if timed is not None:
            candidates.append(timed)
        elif any(p.total_s for p in index.run_prompts(run.index)):
            candidates.append(_estimated_row(index, run, label))
    rows = [row for row in candidates if row.count]
    clock = bool(rows) and all(row.origin is not None for row in rows) and _oneclock(rows)
    return rows, clock


def _oneclock(rows: list[_Row]) -> bool:
    """Runs share the wall-clock axis when they fill most of it (not one run today, one next week)."""
    spans = sorted((row.origin, row.origin + timedelta(seconds=row.end)) for row in rows if row.origin is not None)
    busy = sum((b - a).total_seconds() for a, b in spans)
    gaps = sum(max(0.0, (spans[i + 1][0] - spans[i][1]).total_seconds()) for i in range(len(spans) - 1))
    return gaps <= max(busy, 60.0)


def _timed_row(index: ReportIndex, run: Run, label: str) -> _Row | None:
    """The run's row on its clock; None if one of its prompts is estimated after all (laid out end to end)."""
    assert run.started_at is not None and run.ended_at is not None
    origin = run.started_at
    row = _Row(run=run, label=label, origin=origin, end=_secs(run.ended_at - origin))

    def at(ts: datetime) -> float:
        return _secs(ts - origin)

    if run.ready_at is not None and run.ready_at > origin:
        ready = at(run.ready_at)
        row.add(0.0, ready, "startup", partial(_timed_text, f"run {run.index + 1} start-up", ready, origin,
                                               run.ready_at))
    for first, last in run.install_spans:
        a, b = at(first), at(last)
        row.add(a, b, "install", partial(_timed_text, "ComfyUI-Manager installing custom nodes", b - a, first, last))
    suspected = {i for f in index.report.findings if f.id == "oom-suspected" for i in f.prompts}
    for p in index.run_prompts(run.index):
        if p.estimated:
            return None
        for span in p.spans:
            a, b = at(span.start), at(span.end)
            if b <= a:
                continue
            kind = span_kind(p, span)
            row.add(a, b, kind, partial(_timed_text, f"prompt {p.index + 1} · {PHASE_LABEL[kind]}", b - a,
                                        span.start, span.end))
        if p.status == "unfinished" and p.ended_at is not None:
            if p.index in suspected:
                row.markers.append(_Marker(at(p.ended_at), "oom-suspected",
                                           f"prompt {p.index + 1}: sampling stopped at {clock(p.ended_at)} with no "
                                           "error, most likely out of memory (finding oom-suspected)"))
            else:
                row.markers.append(_Marker(at(p.ended_at), "unfinished", f"prompt {p.index + 1} never finished: "
                                                                          f"the log stops at {clock(p.ended_at)}"))
    cursor = 0.0
    for a, b in row.spans.covered():
        if a > cursor + 0.05:
            row.add(cursor, a, "idle", partial(_idle_text, a - cursor))
        cursor = max(cursor, b)
    if row.end > cursor + 0.05:
        row.add(cursor, row.end, "idle", partial(_idle_text, row.end - cursor))
    row.bars.sort(key=lambda bar: bar.start)
    if run.restart:
        row.markers.append(_Marker(0.0, "restart", f"run {run.index + 1} begins: ComfyUI started again at "
                                                   f"{clock(origin)} ({index.lines_ref(run.source, run.first_line)})"))
    row.errors_after = len(row.markers)
    for kind, _prompt, ts, position in _error_incidents(index, run):
        if ts is not None:
            row.errors.add(kind, at(ts), position)
    for kind, _prompt, ts, text in _websocket_incidents(index, run):
        if ts is not None:
            row.markers.append(_Marker(at(ts), kind, text))
    return row


def _timed_text(what: str, seconds: float, start: datetime, end: datetime) -> str:
    """A timed bar's hover text: ``prompt 3 · load 2.1 s (12:00:01 → 12:00:03)``."""
    return f"{what} {fmt_s(seconds)} ({clock(start)} → {clock(end)})"


def _idle_text(seconds: float) -> str:
    return f"idle {fmt_s(seconds)}"


def _estimated_text(prompt: int, kind: str, seconds: float) -> str:
    return f"prompt {prompt + 1} · {PHASE_LABEL[kind]} ~{fmt_s(seconds)} (estimated)"


def _estimated_row(index: ReportIndex, run: Run, label: str) -> _Row:
    row = _Row(run=run, label=label + " (est.)", origin=None, estimated=True)
    marked = {prompt for _, prompt, _, _ in _error_incidents(index, run)}  # the websocket's are of no prompt
    cursor = 0.0
    block_end: dict[int, float] = {}  # of the prompts with an incident
    for p in index.run_prompts(run.index):
        if not p.total_s:
            continue
        for kind, seconds in _estimated_parts(p):
            row.add(cursor, cursor + seconds, kind, partial(_estimated_text, p.index, kind, seconds))
            cursor += seconds
        if p.index in marked:
            block_end[p.index] = cursor
        if p.status == "unfinished":
            row.markers.append(_Marker(cursor, "unfinished", f"prompt {p.index + 1} never finished"))
    row.end = cursor
    row.bars.sort(key=lambda bar: bar.start)
    if run.restart:
        row.markers.append(_Marker(0.0, "restart", f"run {run.index + 1} begins: ComfyUI started again "
                                                   f"({index.lines_ref(run.source, run.first_line)})"))
    row.errors_after = len(row.markers)
    for kind, prompt, _ts, position in _error_incidents(index, run):
        if prompt is not None and prompt in block_end:
            row.errors.add(kind, block_end[prompt], position)
    return row


def _error_incidents(index: ReportIndex, run: Run) -> Iterator[tuple[str, int | None, datetime | None, int]]:
    """Errors of one run, one at a time: (marker kind, prompt index, time, the error's position in its table)."""
    positions = index.run_error_positions(run)
    for position, e in zip(positions, walk(index.report.errors, positions), strict=True):
        kind = "oom" if e.kind.startswith("oom") else ("interrupted" if e.kind == "interrupted" else "error")
        yield kind, e.prompt, e.ts, position


def _error_hover(index: ReportIndex, e: ErrorRecord) -> str:
    where = f" · prompt {e.prompt + 1}" if e.prompt is not None else ""
    at = esc(index.lines_ref(e.source, e.line))
    return f"{esc(e.kind)}{where} · {at}<br>{_hover(e.message)}"


def _websocket_incidents(index: ReportIndex, run: Run) -> list[tuple[str, int | None, datetime | None, str]]:
    """Websocket events of one run: (marker kind, None, time, hover)."""
    websocket = sorted([*index.run_events(EventKind.WS_TIMEOUT, run), *index.run_events(EventKind.WS_RECONNECT, run)],
                       key=lambda ev: ev.line)
    out: list[tuple[str, int | None, datetime | None, str]] = []
    for ev in websocket:
        what = "websocket receive timed out" if ev.kind is EventKind.WS_TIMEOUT else "websocket reconnect"
        out.append(("websocket", None, ev.ts, f"{what} at {clock(ev.ts)} · {esc(index.lines_ref(ev.source, ev.line))}"))
    return out


def _cap_markers(index: ReportIndex, rows: list[_Row], notes: list[str]) -> dict[str, list[tuple[_Row, _Marker]]]:
    """The markers drawn, by kind in the order met: all of a kind, or MAX_MARKERS_PER_KIND evenly spaced. Counted
    first, then picked: the errors' markers are columns (_ErrorMarkers) whose text only the ones drawn get."""
    totals: dict[str, int] = {}

    def count(kind: str, n: int = 1) -> None:
        totals[kind] = totals.get(kind, 0) + n

    for row in rows:
        for marker in row.markers[:row.errors_after]:
            count(marker.kind)
        kinds = row.errors.kinds
        for code in sorted({*kinds}, key=kinds.find):  # in the order met, as the markers' kinds are
            count(ERROR_MARKERS[code], kinds.count(code))
        for marker in row.markers[row.errors_after:]:
            count(marker.kind)
    picked: dict[str, set[int] | None] = {}
    for kind, total in totals.items():
        if total > MAX_MARKERS_PER_KIND:
            step = total / MAX_MARKERS_PER_KIND
            picked[kind] = {int(i * step) for i in range(MAX_MARKERS_PER_KIND)}
            notes.append(f"{MARKER_STYLE[kind][0]} markers: {MAX_MARKERS_PER_KIND} of {total} drawn, evenly spaced")
        else:
            picked[kind] = None  # all
    found: dict[str, list[tuple[_Row, _Marker]]] = {kind: [] for kind in totals}
    seen = dict.fromkeys(totals, 0)

    def take(kind: str) -> bool:
        n = seen[kind]
        seen[kind] = n + 1
        chosen = picked[kind]
        return chosen is None or n in chosen

    for row in rows:
        for marker in row.markers[:row.errors_after]:
            if take(marker.kind):
                found[marker.kind].append((row, marker))
        errors = row.errors
        chosen = [i for i, code in enumerate(errors.kinds) if take(ERROR_MARKERS[code])]
        for i, e in zip(chosen, walk(index.report.errors, [errors.positions[i] for i in chosen]), strict=True):
            kind = ERROR_MARKERS[errors.kinds[i]]
            found[kind].append((row, _Marker(errors.ats[i], kind, _error_hover(index, e))))
        for marker in row.markers[row.errors_after:]:
            if take(marker.kind):
                found[marker.kind].append((row, marker))
    return found


#: About one stretch per pixel of a wide plot: finer stretches would only be widened to a pixel anyway.
MAX_BINS = 1000
BUSY_ORDER = ("startup", "install", "load", "inference", "wait", "other")


def _bin(busy: Iterable[tuple[float, float, str]], start: float, end: float, budget: int) -> list[_Bar]:
    """Too many spans to draw: idle becomes one background bar from ``start`` to ``end``, and the busy
    time (``busy``: the bars that are not idle, in start order) is summed per phase in equal stretches of
    the row, each phase drawn as one bar of its true total length where the stretch's first busy second
    is. Busy and idle keep their proportions; order inside a stretch is lost.
    """
    bins = max(1, min(budget // 3, MAX_BINS))
    width = (end - start) / bins if end > start else 1.0
    shares: list[dict[str, float]] = [{} for _ in range(bins)]  # busy seconds per phase kind
    first: list[float | None] = [None] * bins
    for a, b, kind in busy:
        i = min(bins - 1, max(0, int((a - start) / width)))
        while a < b and i < bins:
            edge = start + (i + 1) * width
            take = min(b, edge) - a
            if take > 0:
                shares[i][kind] = shares[i].get(kind, 0.0) + take
                first[i] = a if first[i] is None else min(a, first[i] or a)
            a = edge
            i += 1
    out = [_Bar(start, end, "idle", f"idle, apart from the busy stretches drawn over it ({fmt_s(end - start)} row)")]
    for i, share in enumerate(shares):
        if not share:
            continue
        begin = first[i]
        cursor: float = begin if begin is not None else start + i * width
        parts = ", ".join(f"{PHASE_LABEL[k]} {fmt_s(v)}" for k, v in share.items())
        hover = f"busy in this {fmt_s(width)} stretch: {parts} (summarised)"
        for kind in BUSY_ORDER:
            seconds = share.get(kind, 0.0)
            if seconds > 0:
                out.append(_Bar(cursor, cursor + seconds, kind, hover))
                cursor += seconds
    return out


def _secs(delta: timedelta) -> float:
    return delta.total_seconds()


# ---- step rates ------------------------------------------------------------------------------------


def _rates(page: Page, report: Report, baseline: Report | None = None, comparison: Comparison | None = None) -> None:
    def rated() -> Iterator[ProgressBar]:  # read twice, never held: a long log's bars are mostly on disk
        return (b for b in report.progress_bars if b.is_sampling and b.seconds_per_step is not None)

    outside = inside = 0
    for b in rated():
        inside += b.prompt is not None
        outside += b.prompt is None
    if not inside:
        if report.progress_bars:
            page.add("rates", "Step rates", '<p class="note">No sampling progress bar inside a prompt printed a '
                                            "rate.</p>")
        return
    index = index_of(report)
    notes = []
    if outside:
        notes.append(f"{outside} bars printed outside any prompt are not drawn")
    drawn = _evenly(inside, "bars", notes)
    bars = [b for number, b in enumerate(b for b in rated() if b.prompt is not None) if number in drawn]
    labels = Counter(b.label or "" for b in bars)
    kept = [label for label, _ in labels.most_common(MAX_RATE_TRACES)]
    groups: dict[str, list[ProgressBar]] = {}
    for bar in bars:
        key = bar.label or ""
        groups.setdefault(key if key in kept else "\x00other", []).append(bar)
    traces: list[dict[str, Any]] = []
    for key, items in groups.items():
        name = "other labels" if key == "\x00other" else (_hover(key, 60) if key else "sampling")
        xs: list[int] = []
        ys: list[float] = []
        hovers: list[str] = []
        for bar in items:
            prompt = (bar.prompt or 0) + 1
            xs.append(prompt)
            ys.append(round(bar.seconds_per_step or 0.0, 4))
            hovers.append(
                f"prompt {prompt} · {esc(index.lines_ref(bar.source, bar.line))}<br>"
                + (f"{_hover(bar.label, 80)} · " if bar.label else "")
                + f"{bar.done:g}/{bar.total:g} steps in {fmt_s(bar.elapsed_s)} · "
                + f"{esc(bar.rate_text or '')} as printed"
            )
        traces.append({"type": "scatter", "mode": "markers", "name": name, "x": xs, "y": ys,
                       "hovertext": hovers, "hoverinfo": "text", "marker": {"size": 8, "opacity": 0.8}})
    beside = (_baseline_rates(baseline, comparison, notes) if baseline is not None and comparison is not None
              else None)
    if beside is not None:
        traces.append(beside[0])
    values = [b.seconds_per_step or 0.0 for b in bars] + (beside[1] if beside else [])
    low, high = min(values), max(values)
    log_axis = low > 0 and high / low > 30
    last = max((b.prompt or 0) + 1 for b in bars)
    layout = {
        "height": 260,
        "margin": {"l": 70, "r": 20, "t": 36, "b": 50},
        "xaxis": {"title": {"text": "prompt"}, "tickformat": "d", "range": [0.5, last + 0.5],
                  **({"dtick": 1} if last <= 20 else {})},
        "yaxis": {"title": {"text": "seconds per step"}, "type": "log" if log_axis else "linear",
                  **({} if log_axis else {"rangemode": "tozero"})},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "hovermode": "closest",
        "showlegend": len(traces) > 1,
    }
    if beside is not None:
        layout["showlegend"] = True
    page.figures["rates-plot"] = {"data": traces, "layout": layout, "config": PLOTLY_CONFIG}
    page.summarised += [f"step rates: {n}" for n in notes]
    body = (
        '<div id="rates-plot" class="plot"></div>\n'
        '<p class="note">One point per sampling progress bar, at its prompt: the rate of its last state '
        "(tqdm's close), as seconds per step (it/s is shown as 1 / rate; hover for the rate as printed). "
        "Lower is faster. Bars that load weights or download are left out."
        + (" The baseline's bars (diamonds) are drawn at the run's prompt they are compared with." if beside else "")
        + "</p>"
    )
    if notes:
        body += f'\n<p class="note warn">Summarised: {esc("; ".join(notes))}.</p>'
    page.add("rates", "Step rates", body)


def _evenly(count: int, what: str, notes: list[str]) -> range | set[int]:
    """The numbers of the points drawn of ``count``: all, or MAX_RATE_POINTS evenly spaced (said in ``notes``):
    a long log's bars would make a page of hundreds of MB, and as much memory to write it."""
    if count <= MAX_RATE_POINTS:
        return range(count)
    step = count / MAX_RATE_POINTS
    notes.append(f"{MAX_RATE_POINTS} of {count} {what} drawn, evenly spaced")
    return {int(i * step) for i in range(MAX_RATE_POINTS)}


def _baseline_rates(baseline: Report, c: Comparison, notes: list[str]) -> tuple[dict[str, Any], list[float]] | None:
    """The baseline's sampling rates as a trace, each at the run's prompt it is paired with (at most
    MAX_RATE_POINTS, as the run's own)."""
    # the run's prompt number (1-based) at each baseline prompt's index, 0 where none is paired: 8 bytes
    # a prompt, where a dict of the pairs costs ~100 (two long logs pair hundreds of thousands)
    paired = array("q")
    for base_index, run_index in zip(c.baseline_prompts, c.run_prompts, strict=False):
        if base_index >= len(paired):
            paired.frombytes(bytes(paired.itemsize * (base_index + 1 - len(paired))))
        paired[base_index] = run_index + 1

    def rated() -> Iterator[tuple[ProgressBar, int]]:  # read twice, never held, as the run's own
        for bar in baseline.progress_bars:
            if bar.is_sampling and bar.seconds_per_step is not None and bar.prompt is not None \
                    and 0 <= bar.prompt < len(paired) and paired[bar.prompt]:
                yield bar, paired[bar.prompt]

    drawn = _evenly(sum(1 for _ in rated()), "baseline bars", notes)
    xs: list[int] = []
    ys: list[float] = []
    hovers: list[str] = []
    for number, (bar, run_prompt) in enumerate(rated()):
        if number not in drawn:
            continue
        assert bar.seconds_per_step is not None and bar.prompt is not None
        xs.append(run_prompt)
        ys.append(round(bar.seconds_per_step, 4))
        hovers.append(f"baseline prompt {bar.prompt + 1} (compared with prompt {run_prompt}) · line {bar.line}<br>"
                      f"{bar.done:g}/{bar.total:g} steps in {fmt_s(bar.elapsed_s)} · {esc(bar.rate_text or '')} "
                      "as printed")
    if not xs:
        return None
    return ({"type": "scatter", "mode": "markers", "name": "baseline", "x": xs, "y": ys, "hovertext": hovers,
             "hoverinfo": "text", "marker": {"size": 10, "opacity": 0.8, "symbol": "diamond-open"}}, ys)


# ---- tables ----------------------------------------------------------------------------------------


def _prompt_table(report: Report, page: Page) -> str:
    several_runs = len(report.runs) > 1
    phase_names = [ph for ph in PHASES if ph is not Phase.WAIT or report.wait_applies]  # no worker: nothing waits
    head = ["#"] + (["run"] if several_runs else []) + ["received", "status", "total",
                                                         *(ph.value for ph in phase_names),
                                                         "steps", "rate", "models", "lines"]
    numeric = {"#", "run", "total", "load", "inference", "wait", "other", "steps", "rate", "lines"}
    out = ["<tr>" + "".join(f'<th class="num">{h}</th>' if h in numeric else f"<th>{h}</th>" for h in head) + "</tr>"]
    shown = report.prompts[:MAX_PROMPT_ROWS]
    index = index_of(report)
    for p in shown:
        steps, rate = index.main_bar_text(p)
        phases = [fmt_s(shown_phase(p, ph)) for ph in phase_names]
        models = ", ".join(p.models[:6]) + (" …" if len(p.models) > 6 else "")
        lines = index.line_label(p.source, p.line, p.last_line)
        cells = [
            (str(p.index + 1), "num"),
            *([(str(p.run + 1), "num")] if several_runs else []),
            (clock(p.got_at) if p.received else "(before log)", ""),
            (p.status, f"status-{p.status}"),
            (_total_text(p), "num"),
            *((v, "num") for v in phases),
            (steps, "num"),
            (rate, "num"),
            (models or "—", ""),
            (lines, "num"),
        ]
        out.append("<tr>" + "".join(f'<td class="{cls}">{esc(v)}</td>' if cls else f"<td>{esc(v)}</td>"
                                    for v, cls in cells) + "</tr>")
    notes = []
    if any(p.estimated for p in shown):
        notes.append("~ no usable timestamps: phases estimated from the durations the log prints.")
    notes += not_timed_notes(shown) + status_notes(shown) + lower_bound_notes(shown)
    notes += interrupt_notes(index, shown)
    notes += cancel_notes(index, shown)
    if len(report.prompts) > MAX_PROMPT_ROWS:
        hidden = len(report.prompts) - MAX_PROMPT_ROWS
        notes.append(f"{hidden} more prompts not shown (comfylog analyze --format json lists them all).")
        page.summarised.append(f"prompt table: first {MAX_PROMPT_ROWS} of {len(report.prompts)} prompts")
    note = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return '<div class="scroll"><table>\n' + "\n".join(out) + "\n</table></div>" + note


def _total_text(p: Prompt) -> str:
    """A prompt's total: measured, and the printed one beside it where the two read differently."""
    measured = total_text(p)
    if p.executed_s is None or p.estimated or p.total_s is None or fmt_s(p.executed_s) == fmt_s(p.total_s):
        return measured
    return f"{measured} (printed {fmt_s(p.executed_s)})"


def _error_table(report: Report, page: Page) -> str:
    index = index_of(report)
    out = ['<tr><th class="num">line</th><th class="num">prompt</th><th>time</th><th>kind</th><th>message</th></tr>']
    for e in report.errors[:MAX_ERROR_ROWS]:
        where = index.line_label(e.source, e.line)
        out.append(
            f'<tr><td class="num">{esc(where)}</td>'
            f'<td class="num">{esc(e.prompt + 1) if e.prompt is not None else "—"}</td>'
            f"<td>{esc(clock(e.ts))}</td><td>{esc(e.kind)}</td>"
            f'<td class="msg">{esc(_clip(e.message, MAX_TEXT))}</td></tr>'
        )
    note = ""
    if len(report.errors) > MAX_ERROR_ROWS:
        hidden = len(report.errors) - MAX_ERROR_ROWS
        note = f'<p class="note">{hidden} more errors not shown.</p>'
        page.summarised.append(f"error table: first {MAX_ERROR_ROWS} of {len(report.errors)} errors")
    return '<div class="scroll"><table>\n' + "\n".join(out) + "\n</table></div>" + note


# ---- comparison ----------------------------------------------------------------------------------

#: Prompt pairs drawn on the aligned timeline.
MAX_ALIGNED_PAIRS = 4


def _comparison(page: Page, report: Report, baseline: Report, comparison: Comparison) -> None:
    """The run beside its baseline: the gap and what explains it, phases, step rates, loads, machine,
    and both prompts' timelines aligned at their start."""
    from ..compare import ratio_text

    c = comparison
    total = c.total
    parts: list[str] = []
    how = " as ComfyUI printed them" if c.total_source == "executed" else ", measured from the log's timestamps"
    lead = (f"This run took <strong>{esc(fmt_s(total.run))}</strong>, the baseline "
            f"<strong>{esc(fmt_s(total.baseline))}</strong> ({esc(how.lstrip(' ,'))}; the prompt tables and "
            "timelines show the measured times)")
    if c.gap_s is not None:
        lead += f": {esc(ratio_text(total))} ({esc(signed_dur(c.gap_s))})"
    lead += "."
    if c.main_phase is not None and c.main_phase_gap_s is not None and c.gap_s:
        lead += (f" The largest share of the difference is <strong>{esc(PHASE_LABEL.get(c.main_phase, c.main_phase))}"
                 f"</strong>: {esc(signed_dur(c.main_phase_gap_s))} "
                 f"{'more than all' if c.main_phase_gap_s / c.gap_s > 1 else 'of'} {esc(signed_dur(c.gap_s))}.")
    parts.append(f"<p>{lead}</p>")
    if c.explaining:
        items = "".join(f"<li>{prose(f.title)} <span class=\"note\">(<code>{esc(f.id)}</code>)</span></li>"
                        for f in c.explaining)
        parts.append(f"<p>Findings behind it (see Findings above):</p><ul>{items}</ul>")
    parts += [f"<p>{prose(note)}</p>" for note in c.verdict_notes]
    if c.setup_differences:
        items = "".join(f"<li>{esc(difference)}</li>" for difference in c.setup_differences)
        parts.append(f'<p>Set-up differences that can explain it:</p><ul class="setup">{items}</ul>')
    names = (f'<p class="note">run: <span class="mono">{esc(_clip(c.run_name, 200))}</span> prompt '
             f'{esc(", ".join(str(i + 1) for i in c.run_prompts[:12]))} · baseline: <span class="mono">'
             f'{esc(_clip(c.baseline_name, 200))}</span> prompt '
             f'{esc(", ".join(str(i + 1) for i in c.baseline_prompts[:12]))}'
             f' · totals {esc("as ComfyUI printed them" if c.total_source == "executed" else "measured")}</p>')
    parts.append(names)

    head = ('<tr><th></th><th class="num">run</th><th class="num">baseline</th><th class="num">difference</th>'
            "<th>run vs baseline</th></tr>")
    rows = [_delta_row("total", total)]
    rows += [_delta_row(PHASE_LABEL.get(d.name, d.name), d, swatch=d.name) for d in c.shown_phases]
    for step in c.steps:
        rows.append(_delta_row(f"step rate, bar {step.position} ({step.steps:g} steps)", step.rate))
    if c.lowvram_module_lines != (0, 0):
        run_lines, base_lines = c.lowvram_module_lines
        rows.append(f"<tr><td>lowvram module lines</td><td class=\"num\">{run_lines}</td>"
                    f"<td class=\"num\">{base_lines}</td><td></td><td></td></tr>")
    side = [f'<div><table>{head}{"".join(rows)}</table>']
    if c.unmatched_steps:
        side.append(f'<p class="note">Step rates not paired: {esc("; ".join(c.unmatched_steps[:6]))}.</p>')
    side.append("</div>")
    facts = ['<tr><th></th><th>run</th><th>baseline</th></tr>']
    for fact in c.machine:
        mark = "" if fact.same else ' class="warn"'
        facts.append(f"<tr{mark}><th>{esc(fact.name)}</th><td>{esc(fact.run or '—')}</td>"
                     f"<td>{esc(fact.baseline or '—')}</td></tr>")
    if c.loads:
        for load in c.loads[:12]:
            facts.append(f"<tr><th>loads: {esc(_clip(load.model, 60))}</th>"
                         f"<td>{esc(_kinds(load.run, load.run_loaded_mb))}</td>"
                         f"<td>{esc(_kinds(load.baseline, load.baseline_loaded_mb))}</td></tr>")
    side.append(f'<div><table class="facts">{"".join(facts)}</table></div>')
    parts.append(f'<div class="cols">{"".join(side)}</div>')
    only = []
    if c.only_in_run:
        only.append("only in this run: " + ", ".join(f"<code>{esc(f.id)}</code>" for f in c.only_in_run))
    if c.only_in_baseline:
        only.append("only in the baseline: " + ", ".join(f"<code>{esc(f.id)}</code>" for f in c.only_in_baseline))
    if only:
        parts.append(f'<p class="note">Findings {" · ".join(only)}.</p>')
    for note in c.notes:
        parts.append(f'<p class="note">{esc(note)}.</p>')
    figure = _aligned_figure(report, baseline, c)
    if figure is not None:
        page.figures["comparison-plot"] = figure
        parts.append('<h3 class="sub">Both prompts from their start</h3>')
        parts.append('<div id="comparison-plot" class="plot"></div>')
        pairs = min(len(c.run_prompts), len(c.baseline_prompts))
        note = "The run's and the baseline's prompts on one scale, each from its own start."
        if pairs > MAX_ALIGNED_PAIRS:
            note += f" The first {MAX_ALIGNED_PAIRS} of {pairs} pairs are drawn."
            page.summarised.append(f"comparison: first {MAX_ALIGNED_PAIRS} of {pairs} prompt pairs drawn")
        if c.estimated:
            note += " Prompts without usable timestamps are drawn end to end by phase, gaps left out (estimated)."
        parts.append(f'<p class="note">{esc(note)}</p>')
    page.add("comparison", "Compared with the baseline", "\n".join(parts))


def _kinds(kinds: dict[str, int], loaded_mb: float | None) -> str:
    if not kinds:
        return "—"
    text = ", ".join(f"{n} {k}" for k, n in kinds.items())
    return text + (f" (up to {loaded_mb:,.0f} MB on the GPU)" if loaded_mb is not None else "")


def _delta_row(label: str, delta: Delta, swatch: str | None = None) -> str:
    from ..compare import ratio_text

    unit = delta.unit

    def value(v: float | None) -> str:
        if v is None:
            return "—"
        return fmt_s(v) if unit == "s" else f"{v:.2f} {unit}"

    diff = delta.difference
    diff_text = "—" if diff is None else (signed_dur(diff) if unit == "s" else f"{diff:+.2f} {unit}")
    ratio = ratio_text(delta)
    cls = ' class="warn"' if delta.ratio is not None and delta.ratio > 1.5 or (
        delta.ratio is None and (diff or 0) > 1) else ""
    mark = f'<span class="swatch" style="background:{PHASE_COLOUR[swatch]}"></span>' if swatch in PHASE_COLOUR else ""
    return (f"<tr><td>{mark}{esc(label)}</td><td class=\"num\">{esc(value(delta.run))}</td>"
            f"<td class=\"num\">{esc(value(delta.baseline))}</td><td class=\"num\">{esc(diff_text)}</td>"
            f"<td{cls}>{esc(ratio)}</td></tr>")


def _aligned_figure(report: Report, baseline: Report, c: Comparison) -> dict[str, Any] | None:
    """Run and baseline prompts as rows on one axis of seconds from each prompt's start."""
    # the first pairs only, looked up one by one: a long log's prompt table is not held
    run_prompts = list(islice(index_of(report).prompts_at(c.run_prompts), MAX_ALIGNED_PAIRS))
    base_prompts = list(islice(index_of(baseline).prompts_at(c.baseline_prompts), MAX_ALIGNED_PAIRS))
    rows: list[tuple[str, list[_Bar]]] = []
    for run_p, base_p in zip(run_prompts, base_prompts, strict=False):
        rows.append((f"run · prompt {run_p.index + 1}", _prompt_bars(run_p, "run")))
        rows.append((f"baseline · prompt {base_p.index + 1}", _prompt_bars(base_p, "baseline")))
    if not any(bars for _, bars in rows):
        return None
    traces: list[dict[str, Any]] = []
    for kind in ("load", "inference", "wait", "other", "untimed"):
        ys: list[str] = []
        bases: list[float] = []
        xs: list[float] = []
        hovers: list[str] = []
        for label, bars in rows:
            for bar in bars:
                if bar.kind == kind:
                    ys.append(label)
                    bases.append(round(bar.start, 3))
                    xs.append(round(bar.end - bar.start, 3))
                    hovers.append(bar.hover)
        if ys:
            traces.append({"type": "bar", "orientation": "h", "name": PHASE_LABEL[kind], "y": ys, "x": xs,
                           "base": bases, "marker": {"color": PHASE_COLOUR[kind], "line": {"width": 0}},
                           "hovertext": hovers, "hoverinfo": "text", "width": 0.6})
    labels = [label for label, _ in rows]
    layout = {
        "barmode": "overlay",
        "height": 130 + 52 * len(rows),
        "margin": {"l": 150, "r": 20, "t": 36, "b": 50},
        "xaxis": {"type": "linear", "title": {"text": "seconds from the prompt's start"}, "rangemode": "tozero"},
        "yaxis": {"type": "category", "autorange": "reversed", "categoryorder": "array", "categoryarray": labels},
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "hovermode": "closest",
        "plot_bgcolor": "#ffffff",
        "bargap": 0.3,
    }
    return {"data": traces, "layout": layout, "config": PLOTLY_CONFIG}


def _prompt_bars(prompt: Prompt, side: str) -> list[_Bar]:
    """A prompt's phases from its start: its painted spans, or back to back when it was estimated."""
    bars: list[_Bar] = []
    if prompt.spans and prompt.started_at is not None and not prompt.estimated:
        origin = prompt.started_at
        for span in prompt.spans:
            a, b = _secs(span.start - origin), _secs(span.end - origin)
            if b > a:
                kind = span_kind(prompt, span)
                bars.append(_Bar(a, b, kind, f"{side} prompt {prompt.index + 1} · {PHASE_LABEL[kind]} {fmt_s(b - a)} "
                                             f"(+{fmt_s(a)} → +{fmt_s(b)})"))
        return bars
    cursor = 0.0
    for kind, seconds in _estimated_parts(prompt):
        bars.append(_Bar(cursor, cursor + seconds, kind, f"{side} prompt {prompt.index + 1} · "
                                                         f"{PHASE_LABEL[kind]} ~{fmt_s(seconds)} (estimated)"))
        cursor += seconds
    return bars


def _estimated_parts(prompt: Prompt) -> list[tuple[str, float]]:
    """A prompt without a clock, back to back: its known phases, then what the log could not time."""
    parts = [(phase.value, seconds) for phase in PHASES if (seconds := prompt.phases.get(phase) or 0.0) > 0]
    untimed = (prompt.total_s or 0.0) - prompt.phases.total
    return parts + ([("untimed", untimed)] if untimed > 0.0005 else [])


# ---- about -----------------------------------------------------------------------------------------


def _about(report: Report, page: Page) -> str:
    s = report.summary
    facts = []
    for src in report.sources:
        styles = ", ".join(f"{k} ({v})" for k, v in src.timestamp_styles.items()) or "none"
        bits = [f"{src.lines} lines", f"timestamps: {styles}"]
        if src.markdown:
            bits.append("read from markdown fences")
        if src.replaced_bytes:
            bits.append(f"{src.replaced_bytes} undecodable bytes replaced")
        if src.truncated_lines:
            bits.append(f"{src.truncated_lines} over-long lines cut")
        if src.stopped:
            bits.append(src.stopped + (f", {src.dropped_bytes} compressed bytes not read" if src.dropped_bytes else ""))
        facts.append(f"<li><span class=\"mono\">{esc(_clip(src.name, 200))}</span>: {esc('; '.join(bits))}</li>")
    counts = count_words(report)
    if s.skipped_lines:
        counts.append(f"{s.skipped_lines} lines skipped")
    counts += not_kept_texts(report)
    if report.notable_dropped:
        counts.append(f"{report.notable_dropped} notable events beyond the analysis limit not kept")
        page.summarised.append(f"{report.notable_dropped} notable events dropped by the analysis (not drawn)")
    out = ["<ul>" + "".join(facts) + "</ul>"]
    if counts:
        out.append(f'<p class="note">{esc(" · ".join(counts))}</p>')
    if page.summarised:
        out.append("<p><strong>Summarised to keep this page light:</strong></p><ul>"
                   + "".join(f"<li>{esc(n)}</li>" for n in page.summarised) + "</ul>")
    else:
        out.append('<p class="note">Nothing was summarised: every span, marker and row is drawn.</p>')
    out.append(f'<p class="note">Made by comfylog {esc(__version__)}. Self-contained: works offline; '
               "log text is shown as text, never run.</p>")
    return "\n".join(out)
