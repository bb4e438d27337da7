"""``--format markdown``: a reply to post in a GitHub issue thread about a pasted log.

One summary line, the findings (title, what they cost, advice) with their log lines in collapsed
``<details>`` blocks, the prompt table and the machine; at most GitHub's 65,536 characters.

Log text is untrusted and never becomes markup. Log lines stand in fenced blocks longer than any
backtick run in them (so no line can close its fence), at the top level (never in a list, whose end
would end the fence too). Texts that mix comfylog's words with the log's (finding titles, advice,
GPU names) keep their `code` spans, re-fenced so the log cannot close them, and everything else is
backslash-escaped: no emphasis, links, images, HTML or entities. GitHub links ``@user``, ``#123``,
commit hashes and ``:emoji:`` after rendering, in any text outside code, so such words are put in
code spans. The only HTML is comfylog's own ``<details>`` / ``<summary>``, with blank lines around
so what follows is markdown again.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from ..dataclass import dataclass
from ..events import Phase
from ..index import (
    MainBar,
    cancel_notes,
    evidence_in_line_order,
    index_of,
    interrupt_notes,
    lower_bound_notes,
    not_timed_notes,
    shown_phase,
    status_notes,
    total_text,
)
from ..model import PHASES, Finding, Prompt, Report, Run
from ..text import basename, clip, clock, dur, fmt_s, gb, listing, plural, when
from ..version import __version__

#: GitHub refuses a comment body over 65,536 characters; this leaves room for a workflow's marker.
GITHUB_COMMENT_LIMIT = 65_536
MAX_CHARS = GITHUB_COMMENT_LIMIT - 1_536
#: Cuts of log text: one line, a finding's why / advice item, a title.
MAX_LINE = 500
MAX_PARAGRAPH = 2_000
MAX_TITLE = 300
MAX_RUNS = 6
SEVERITY_ICON = {"error": "🛑", "warning": "⚠️", "info": "ℹ️"}

#: ASCII punctuation that starts or ends markup anywhere in a line (CommonMark inline syntax, GFM
#: tables and strikethrough, entities, HTML). The rest only matters at the start of a block. An
#: underscore between letters or digits cannot start emphasis (``custom_nodes``): it stays as it is.
INLINE_SPECIAL = re.compile(r"([\\`*\[\]<>!|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
#: Words GitHub turns into links, mentions or pictures after rendering, wherever they are outside code.
GITHUB_REFERENCE = re.compile(
    r"(?:\S*[@#]\S*"                                    # @user, @org/team, #123, owner/repo#123, a@b
    r"|\S*\bGH-\d+\S*"                                  # GH-123
    r"|\S*(?:https?|ftp)://\S*|\S*\bwww\.\S*"           # bare links (GFM autolinks)
    r"|\S*:(?:(?=[\w+-]*[a-z])[\w+-]+|100|1234):\S*"     # :emoji: (not a time of day)
    r"|\S*\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b\S*)",  # commit hashes
    re.IGNORECASE,
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]|\x1b\[[0-9;?]*[ -/]*[@-~]")
BACKTICKS = re.compile(r"`+")
BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)](?=\s|$))")


def clean(text: str, limit: int = MAX_LINE) -> str:
    """One line of text: control characters and ANSI codes out, cut at ``limit`` characters."""
    text = CONTROL.sub("", text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " "))
    return clip(text, limit)


def code_span(text: str) -> str:
    """``text`` as an inline code span that it cannot close (a backtick run of a length it lacks)."""
    text = clean(text)
    runs = {len(run) for run in BACKTICKS.findall(text)}
    n = 1
    while n in runs:
        n += 1
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") or not text else ""
    return f"{'`' * n}{pad}{text}{pad}{'`' * n}"


def fence(lines: list[str], info: str = "text") -> str:
    """Lines in a fenced block that none of them can close (a fence longer than any backtick run)."""
    body = [CONTROL.sub("", line) for line in lines]
    longest = max((len(run) for line in body for run in BACKTICKS.findall(line)), default=0)
    marker = "`" * max(3, longest + 1)
    return "\n".join([marker + info, *body, marker])


def prose(text: str, limit: int = MAX_PARAGRAPH) -> str:
    """Text that mixes comfylog's words with the log's, as markdown that shows it and nothing more.

    Its `code` spans stay code spans (re-fenced); everything else is escaped, and words GitHub would
    link (``@user``, ``#123``, hashes, links, ``:emoji:``) become code spans too.
    """
    text = clean(text, limit)
    out: list[str] = []
    pos = 0
    plain_from = 0
    while pos < len(text):
        match = BACKTICKS.search(text, pos)
        if match is None:
            break
        closing = re.compile(r"(?<!`)" + "`" * len(match.group()) + r"(?!`)")
        end = closing.search(text, match.end())
        if end is None:
            pos = match.end()
            continue
        out.append(_plain(text[plain_from:match.start()]))
        inner = text[match.end():end.start()]
        if len(inner) >= 2 and inner[0] == " " and inner[-1] == " " and inner.strip():
            inner = inner[1:-1]
        out.append(code_span(inner))
        pos = plain_from = end.end()
    out.append(_plain(text[plain_from:]))
    result = _join(out)
    starts = BLOCK_START.match(result)
    if starts:  # a heading, quote, list or rule marker at the start of a line would make a block
        result = result[: starts.end() - 1] + "\\" + result[starts.end() - 1:]
    return result


def _plain(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in GITHUB_REFERENCE.finditer(text):
        pieces.append(INLINE_SPECIAL.sub(r"\\\1", text[last:match.start()]))
        pieces.append(code_span(match.group()))
        last = match.end()
    pieces.append(INLINE_SPECIAL.sub(r"\\\1", text[last:]))
    return _join(pieces)


def _join(pieces: list[str]) -> str:
    """Pieces of markdown side by side, a space between two whose backticks would touch: ``a`` then
    ``@x`` written together make one run of three backticks, which closes neither code span."""
    out = ""
    for piece in pieces:
        if out.endswith("`") and piece.startswith("`"):
            out += " "
        out += piece
    return out


def cell(text: str) -> str:
    """A table cell: prose on one line (its pipes escaped too, inside code spans as well)."""
    return prose(text, MAX_LINE).replace("|", "\\|").replace("\\\\|", "\\|")


# ---- the reply ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """How much of the report a reply shows; ``render_markdown`` tightens it until the reply fits."""

    evidence: int = 12
    prompts: int = 40
    findings: int = 1_000
    runs: int = MAX_RUNS


#: From the whole reply to the least that still answers: fewer log lines, fewer prompt rows, fewer findings.
BUDGETS = (Budget(), Budget(5, 20), Budget(2, 10), Budget(0, 5, runs=2), Budget(0, 0, 10, 1), Budget(0, 0, 3, 1),
           Budget(0, 0, 1, 1), Budget(0, 0, 0, 1))


def render_markdown(report: Report, limit: int = 40, redacted: bool = True) -> str:
    """The reply, at most GITHUB_COMMENT_LIMIT characters (the log lines, then rows, then findings cut)."""
    budgets = [replace(budget, prompts=min(budget.prompts, limit)) for budget in BUDGETS]
    budgets[0] = Budget(prompts=limit)
    for budget in budgets:
        reply = _reply(report, budget, redacted, cut=budget is not budgets[0])
        if len(reply) <= MAX_CHARS:
            return reply
    return reply[: MAX_CHARS - 200].rsplit("\n", 1)[0] + "\n\n_(cut to fit a GitHub comment)_\n"


def _reply(report: Report, budget: Budget, redacted: bool, cut: bool) -> str:
    blocks = [_summary(report)]
    if cut:
        blocks.append("_This reply was shortened to fit a GitHub comment (65,536 characters): run "
                      "`comfylog analyze LOG` on the log for everything._")
    shown = report.findings[: budget.findings]
    for finding in shown:
        blocks += _finding(finding, report, budget.evidence)
    if len(report.findings) > len(shown):
        rest = report.findings[len(shown):]
        blocks.append(f"_{plural(len(rest), 'more finding')} not shown: "
                      + ", ".join(code_span(f.id) for f in rest[:20]) + ("…" if len(rest) > 20 else "") + "._")
    if report.prompts and budget.prompts:
        blocks += _prompts(report, budget.prompts)
    if report.runs:
        blocks += _machine(report, budget.runs)
    blocks.append(_footer(report, redacted))
    return "\n\n".join(blocks) + "\n"


def _summary(report: Report) -> str:
    """One line: what ran, on what, for how long, whether ComfyUI restarted, and the finding that matters most."""
    prompts = report.prompts  # one pass over it: a long log's table is mostly on disk (spool.py)
    if not report.runs and not len(prompts) and not len(report.errors):
        return "**comfylog** found no ComfyUI run, prompt or error in this text."
    statuses: dict[str, int] = {}
    timed = array("d")  # 8 bytes a prompt, summed as a list would be (sum's own float summation)
    estimated = False
    for p in prompts:
        statuses[p.status] = statuses.get(p.status, 0) + 1
        if p.total_s is not None:
            timed.append(p.total_s)
        estimated = estimated or p.estimated
    what = plural(len(prompts), "prompt")
    if len(prompts) == 1 or len(statuses) == 1:
        status = next(iter(statuses))
        what += f" ({status})" if len(prompts) == 1 else f", all {status}"
    elif statuses:
        what += " (" + ", ".join(f"{n} {status}" for status, n in statuses.items()) + ")"
    run = next((r for r in report.runs if r.gpu), None)
    if run is not None and run.gpu:
        sized = run.total_vram_mb and not run.vram_placeholder()
        what += " on " + code_span(run.gpu) + (f" ({gb(run.total_vram_mb or 0)})" if sized else "")
    if timed:
        what += f", {fmt_s(sum(timed), estimated)} of prompt time"
    restarts = report.summary.restarts
    if restarts:
        what += ", and ComfyUI started again " + ("once" if restarts == 1 else f"{restarts} times")
    main = _main_finding(report.findings)
    if main is not None:
        tail = f"Main finding: **{prose(main.title, MAX_TITLE)}**"
        tail += f" (explains {fmt_s(main.cost_s)})." if main.cost_s else "."
    elif report.findings:
        tail = f"No error or warning; {plural(len(report.findings), 'note')} below."
    else:
        tail = "comfylog found nothing wrong."
    return f"**comfylog:** {what}. {tail}"


def _main_finding(findings: list[Finding]) -> Finding | None:
    for severity in ("error", "warning"):
        for f in findings:
            if f.severity == severity:
                return f
    return None


def _finding(f: Finding, report: Report, evidence: int) -> list[str]:
    blocks = [f"### {SEVERITY_ICON.get(f.severity, '')} {prose(f.title, MAX_TITLE)}".replace("###  ", "### ")]
    facts = [f"**{f.severity}**", f"{f.confidence} confidence"]
    if f.cost_s:
        facts.insert(1, f"explains {fmt_s(f.cost_s)} of prompt time")
    blocks.append(" · ".join(facts) + " · " + code_span(f.id))
    if f.why:
        blocks.append(prose(f.why))
    if f.advice:
        blocks.append("**What to do**")
        blocks.append("\n".join(f"- {prose(item)}" for item in f.advice))
    lines = evidence_in_line_order(f)
    total = max(f.evidence_total, len(f.evidence))
    if lines and evidence:
        index = index_of(report)
        width = max(len(index.line_label(ev.source, ev.line)) for ev in lines)
        body = [f"{index.line_label(ev.source, ev.line):>{width}}  "
                f"{clean(ev.text)}" for ev in lines[:evidence]]
        shown = len(body)
        if index.several_sources:  # each line is labelled NAME:LINE; the label says how many files they are in
            logs = plural(len({ev.source for ev in f.evidence}), "log")
            label = f"Lines of {logs} ({shown} of {total})" if total > shown else f"{plural(shown, 'line')} of {logs}"
        else:
            label = f"The log's lines ({shown} of {total})" if total > shown else f"The log's {plural(shown, 'line')}"
        blocks += ["<details>", f"<summary>{label}</summary>", fence(body), "</details>"]
    return blocks


def _prompts(report: Report, limit: int) -> list[str]:
    index = index_of(report)
    several_runs = len(report.runs) > 1
    phases = [ph for ph in PHASES if ph is not Phase.WAIT or report.wait_applies]  # no worker: nothing waits
    head = ["#", *(["run"] if several_runs else []), "received", "status", "total", *(ph.value for ph in phases),
            "steps", "rate"]
    align = ["--:", *(["--:"] if several_runs else []), "---", "---", *(["--:"] * (len(phases) + 3))]
    rows = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    prompts = report.prompts
    for p in prompts[:limit]:
        rows.append("| " + " | ".join(cell(c) for c in _prompt_row(p, index.main_bar(p), several_runs, phases)) + " |")
    blocks = ["### Prompts", "\n".join(rows)]
    notes = []
    if len(prompts) > limit:
        notes.append(f"{plural(len(prompts) - limit, 'more prompt')} not shown")
    if any(p.estimated for p in prompts[:limit]):
        notes.append("~ estimated from the durations the log prints (no usable timestamps)")
    if notes:
        blocks.append("_" + "; ".join(notes) + "._")
    blocks += not_timed_notes(prompts[:limit]) + status_notes(prompts[:limit]) + lower_bound_notes(prompts[:limit])
    blocks += interrupt_notes(index, prompts[:limit])
    blocks += cancel_notes(index, prompts[:limit])
    return blocks


def _prompt_row(p: Prompt, main: MainBar | None, several_runs: bool, phases: Sequence[Phase]) -> list[str]:
    def phase(ph: Phase) -> str:
        seconds = shown_phase(p, ph)
        return "—" if seconds is None else fmt_s(seconds, p.estimated)

    steps = main.steps_text if main else "—"
    rate = (main.bar.rate_text or "—") if main else "—"
    return [str(p.index + 1), *([str(p.run + 1)] if several_runs else []),
            clock(p.got_at) if p.received else "(before log)", p.status, total_text(p),
            *(phase(ph) for ph in phases), steps, rate]


def _machine(report: Report, runs_shown: int) -> list[str]:
    """The machine as a person describes it: once, then what differed between runs (read in one pass, the
    first ``runs_shown`` kept: a long log has thousands of runs)."""
    described: list[str] = []
    seen: set[tuple[object, ...]] = set()
    runs = started = timed = 0
    starts: list[datetime] = []  # the first runs_shown runs' start times
    first_start: datetime | None = None
    startups: list[str] = []  # the first runs_shown start-up times
    for run in report.runs:
        runs += 1
        key = (run.gpu, run.total_vram_mb, run.total_ram_mb, tuple(run.vram_states), tuple(run.versions()))
        if key not in seen and len(seen) < runs_shown:
            seen.add(key)
            described += _machine_lines(run, report)
        if run.started_at is not None:
            if first_start is None:
                first_start = run.started_at
            started += 1
            if len(starts) < runs_shown:
                starts.append(run.started_at)
        if run.startup_s is not None or run.startup_not_in_log():
            timed += 1
            if len(startups) < runs_shown:
                startups.append(fmt_s(run.startup_s) if run.startup_s is not None
                                else "not known (the log starts at its end)")
    if runs > 1:
        times = listing((when(at) for at in starts), started)
        described.append(f"- **runs:** {runs}" + (f", started {times}" if times else ""))
    elif first_start is not None:
        described.append(f"- **started:** {when(first_start)}")
    if timed:
        shown = ", ".join(startups) + ("…" if timed > runs_shown else "")
        described.append(f"- **start-up:** {shown}")
    return ["### Machine", "\n".join(described)] if described else []


def _machine_lines(run: Run, report: Report) -> list[str]:
    lines = []
    gpu = code_span(run.gpu) if run.gpu else "not in the log"
    vram = f"{run.total_vram_mb} MB VRAM" if run.total_vram_mb is not None else ""
    if run.vram_placeholder():
        vram = f"VRAM not known (DirectML prints a fixed {run.total_vram_mb} MB)"
    sizes = [vram,
             f"{run.total_ram_mb} MB RAM" if run.total_ram_mb is not None else ""]
    lines.append(f"- **GPU:** {gpu}" + "".join(f", {s}" for s in sizes if s))
    if run.vram_states:
        lines.append("- **vram state:** " + ", ".join(code_span(s) for s in run.vram_states))
    if run.versions():
        lines.append("- **versions:** " + ", ".join(code_span(v) for v in run.versions()))
    failed = index_of(report).failed_imports_text(run)  # with the nodes only a `Cannot import` line names
    if run.import_times:
        slowest = max(run.import_times, key=lambda t: t[0])
        imported = run.imports_listed - run.failed_imports
        nodes = f"{imported} imported, slowest {code_span(basename(slowest[1]))} {dur(slowest[0])}"
        lines.append(f"- **custom nodes:** {nodes}" + (f", {failed}" if failed else ""))
    elif failed:
        lines.append(f"- **custom nodes:** {failed}")
    return lines


def _footer(report: Report, redacted: bool) -> str:
    said = "API keys, tokens, e-mail addresses and user names in the log were redacted" if redacted else (
        "the log was not redacted")
    source = "the log" if len(report.sources) <= 1 else plural(len(report.sources), "log")
    return f"_Read from {source} by comfylog {__version__} (`comfylog analyze LOG --format markdown`); {said}._"

