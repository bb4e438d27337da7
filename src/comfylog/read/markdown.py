"""Markdown input (issue bodies, "ComfyUI Error Report"): the log is what stands in fenced blocks, and
the report's header fields (exception, node, device, versions) fill in what the log lacks."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from .clean import clean_text, finish_line
from .source import RawLine, Source

#: Lines looked at to decide whether an input is markdown (a pasted report with fenced logs).
MARKDOWN_PEEK_LINES = 400
FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


def peek_markdown(lines: Iterator[tuple[int, str]]) -> tuple[list[tuple[int, str]], bool]:
    """The first lines (consumed from ``lines``) and whether they make the input markdown."""
    peeked = list(itertools.islice(lines, MARKDOWN_PEEK_LINES))
    return peeked, any(FENCE_RE.match(t) for _, t in peeked)


# "ComfyUI Error Report" header fields: ``- **Exception Type:** torch.OutOfMemoryError``.
REPORT_FIELD_RE = re.compile(r"^\s*-\s+\*\*(?P<key>[^*:]+):\*\*\s*(?P<value>.*)$")
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
    """Yield the log lines inside fenced blocks; record error-report fields; count the rest."""
    fence: str | None = None
    section = ""
    for number, raw in lines:
        text = raw[:-1] if raw.endswith("\r") else raw
        m = FENCE_RE.match(text)
        if fence is None:
            if m:
                fence = m.group(1)[0] * 3
                continue
            stripped = text.strip()
            if stripped.startswith("#"):
                section = stripped.lstrip("#").strip().lower()
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

