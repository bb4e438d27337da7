"""Markdown input (issue bodies, "ComfyUI Error Report"): the log is what stands in fenced blocks, in
a quoted reply (``> `` on every line) or in a block indented four spaces, and the report's header
fields (exception, node, device, versions) fill in what the log lacks. The quote marks and the
indent are taken off as the fences are, so the log's own prefixes (times, levels) are read as usual."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ..lazyre import lazy_re
from .clean import clean_text, finish_line
from .source import RawLine, Source

#: Lines looked at to decide whether an input is markdown (a pasted report with fenced logs).
MARKDOWN_PEEK_LINES = 400
FENCE_RE = lazy_re(r"^\s{0,3}(`{3,}|~{3,})")
#: Block-quote marks (``> ``, nested ``> > ``) at the start of a line.
QUOTE_RE = lazy_re(r"^(?: {0,3}>[ \t]?)+")
#: An indented code block's indent: four spaces or a tab.
INDENT = ("    ", "\t")
#: Share of the first non-blank lines that must be quoted for an input without fences to be markdown.
QUOTED_SHARE = 0.5


#: A line (after a newline) that starts a fence, a quote or an error report's heading: without one,
#: peek_markdown says no. It starts with a literal newline so that the search skips from newline to newline.
MAYBE_MARKDOWN_RE = lazy_re(
    r"\n(?:[^\S\n]{0,3}(?:`{3}|~{3})| {0,3}>|[^\S\n]*(?:# ComfyUI Error Report|## System Information))")


def may_be_markdown(text: str) -> bool:
    """Could the lines of ``text`` make peek_markdown say markdown? One search, where peek_markdown
    matches every line: False means it would say no (no fence, and no line quoted)."""
    return MAYBE_MARKDOWN_RE.search("\n" + text) is not None


#: The headings of ComfyUI's error report (ComfyUI_frontend src/utils/errorReportUtil.ts, generateErrorReport:
#: `# ComfyUI Error Report`, `## Error Details`, `## Stack Trace`, `## System Information`, `## Devices`, `## Logs`).
#: A report copied from a rendered page (or from inside the fence an issue put it in) has them with no fence: such
#: an input is read as markdown, its fields recorded and its `## Logs` section read as the log.
REPORT_HEADINGS = frozenset({"# ComfyUI Error Report", "## System Information"})
#: The report's section that holds the server's log (``## Logs``, then the log's lines).
LOGS_SECTION = "logs"


def peek_markdown(lines: Iterator[tuple[int, str]]) -> tuple[list[tuple[int, str]], bool]:
    """The first lines (consumed from ``lines``) and whether they make the input markdown: a fence, a
    reply whose lines are mostly quoted, or an error report's headings."""
    peeked = list(itertools.islice(lines, MARKDOWN_PEEK_LINES))
    if any(FENCE_RE.match(t) or t.strip() in REPORT_HEADINGS for _, t in peeked):
        return peeked, True
    filled = [t for _, t in peeked if t.strip()]
    quoted = sum(1 for t in filled if QUOTE_RE.match(t))
    return peeked, bool(filled) and quoted >= QUOTED_SHARE * len(filled)


# "ComfyUI Error Report" header fields: ``- **Exception Type:** torch.OutOfMemoryError``.
REPORT_FIELD_RE = lazy_re(r"^\s*-\s+\*\*(?P<key>[^*:]+):\*\*\s*(?P<value>.*)$")
REPORT_FIELDS = {
    "Node ID": "node_id",
    "Node Type": "node_type",
    "Exception Type": "exception_type",
    "Exception Message": "exception_message",
    "ComfyUI Version": "comfyui_version",
    "PyTorch Version": "pytorch_version",
    "Arguments": "arguments",
    "Name": "device",
    "VRAM Total": "vram_total_bytes",
}
# Fenced blocks under these headings hold no log lines (stack trace repeats the log; workflow is JSON).
NON_LOG_SECTIONS = ("stack trace", "attached workflow", "additional context", "workflow")


def markdown_lines(lines: Iterator[tuple[int, str]], src: Source) -> Iterator[RawLine]:
    """Yield the log lines inside fenced blocks, quotes and indented blocks; record error-report fields;
    count the rest."""
    fence: str | None = None
    section = ""
    indented = False  # in an indented code block (it starts after a blank line)
    blank_before = True
    for number, raw in lines:
        text = raw[:-1] if raw.endswith("\r") else raw
        quote = QUOTE_RE.match(text)
        if quote:
            text = text[quote.end():]
        m = FENCE_RE.match(text)
        if fence is None:
            if m:
                fence = m.group(1)[0] * 3
                indented = False
                continue
            stripped = text.strip()
            if (indented or blank_before) and text.startswith(INDENT) and stripped:
                indented = True
                if not section.startswith(NON_LOG_SECTIONS):
                    yield finish_line(number, text[4:] if text.startswith("    ") else text[1:], src)
                    continue
            elif stripped:
                indented = False
            blank_before = not stripped
            if quote and not section.startswith(NON_LOG_SECTIONS):
                yield finish_line(number, text, src)  # a quoted log, line by line
                continue
            if stripped.startswith("#"):
                section = stripped.lstrip("#").strip().lower()
            elif section == LOGS_SECTION and stripped:
                yield finish_line(number, text, src)  # an error report's log with no fence around it
                continue
            fm = REPORT_FIELD_RE.match(text)
            if fm and fm.group("key").strip() in REPORT_FIELDS:
                key = REPORT_FIELDS[fm.group("key").strip()]
                src.report_fields.setdefault(key, (number, clean_text(fm.group("value").strip(), src)))
            src.total_lines = number
            continue
        if m and text.strip().startswith(fence):
            fence = None
            continue
        if section.startswith(NON_LOG_SECTIONS):
            src.total_lines = number
            continue
        yield finish_line(number, text, src)

