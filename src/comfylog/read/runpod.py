"""RunPod's own log shapes: the web console's copy (rows newest first) and the log stream's SSE.

**Console copy.** A row reads ``2025-11-10  21:50:27.563 | info | x4twfmpe23foac | message\\n``: the write's own
newlines and carriage returns are written out as the two characters ``\\n`` and ``\\r``. The rows are
read back oldest first and each write is split into the lines it held, every line keeping its row's
prefix (PrefixReader's ``runpod-console`` style gives it its time). Line numbers then count the log's
lines in time order, not the file's rows: the Source says so (``newest_first``).

No real copied console log is in the corpus yet: the shape is the one issue 13 quotes. A file whose
rows are already oldest first is read in its own order.

**Log stream** (API v2, docs.runpod.io/api-reference-v2/pods/stream-pod-logs): Server-Sent Events whose
``data:`` is ``{"source": "container", "line": "...", "ts": "..."}``. PrefixReader reads the data
lines; the SSE framing around them (``id:``, ``event:``, ``retry:``, comments, the blank line that
ends an event) is no log and is left out here, so it cannot end a traceback or split a bar.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from .clean import finish_line
from .source import RawLine, Source

#: The prefix of a console row: date, two spaces, time, level, worker id, message.
CONSOLE_ROW_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?\s*\|\s*[A-Za-z]+\s*\|\s*[\w-]*\s*\|\s?"
)
#: Rows looked at to decide: all of the first ones that are not blank must be console rows.
CONSOLE_PEEK_ROWS = 5
#: Rows held to reverse a newest-first copy (it must be read whole first); the rest are not read.
CONSOLE_MAX_ROWS = 2_000_000


def console_order(peeked: list[tuple[int, str]]) -> str | None:
    """``"newest-first"`` or ``"oldest-first"`` when the peeked rows are a console copy, else None."""
    head = list(itertools.islice((t for _, t in peeked if t.strip()), CONSOLE_PEEK_ROWS))
    if not head or not all(CONSOLE_ROW_RE.match(t) for t in head):
        return None  # (decided on the first rows: a log is not read whole for this)
    rows = [t for _, t in peeked if t.strip()]
    if not any("\\n" in t for t in rows):
        return None  # a console copy writes every newline out; a log whose prefix merely looks alike does not
    stamps = [m.group("date", "hms", "frac") for t in rows if (m := CONSOLE_ROW_RE.match(t))]
    first, last = ((d, h, (f or "").ljust(9, "0")) for d, h, f in (stamps[0], stamps[-1]))
    return "newest-first" if first > last else "oldest-first"


def console_lines(rows: Iterable[tuple[int, str]], src: Source, newest_first: bool) -> Iterator[RawLine]:
    """The log lines of console rows, in time order, numbered from 1."""
    if newest_first:
        held: list[tuple[int, str]] = []
        for numbered in rows:
            if len(held) == CONSOLE_MAX_ROWS:
                src.stopped = (f"a newest-first console copy longer than {CONSOLE_MAX_ROWS:,} rows: "
                               "only its newest rows were read")
                break
            held.append(numbered)
        rows = reversed(held)
    number = 0
    for _, row in rows:
        for text in _row_lines(row.rstrip("\r")):
            number += 1
            yield finish_line(number, text, src)


def _row_lines(row: str) -> list[str]:
    """The lines one console row held, each with the row's prefix."""
    m = CONSOLE_ROW_RE.match(row)
    if m is None:
        return [row]
    prefix, message = row[: m.end()], row[m.end():]
    if message.endswith("\\n"):
        message = message[:-2]
    return [prefix + part.replace("\\r", "\r") for part in message.split("\\n")]


#: SSE fields and comments that frame the log stream's events.
SSE_FRAMING = ("id:", "event:", "retry:", ":")


def sse_framed(peeked: list[tuple[int, str]]) -> bool:
    """True when the input is a saved log stream: SSE fields with ``data:`` events holding lines."""
    first = next((t for _, t in peeked if t.strip()), None)
    return first is not None and first.startswith((*SSE_FRAMING, "data:")) and any(
        t.startswith("data: {") and '"line"' in t for _, t in peeked)


def sse_data_lines(lines: Iterable[tuple[int, str]], src: Source) -> Iterator[RawLine]:
    """The ``data:`` lines of a saved log stream, keeping their line numbers; the framing is dropped."""
    for number, text in lines:
        if not text.strip() or text.startswith(SSE_FRAMING):
            src.total_lines = number
            continue
        yield finish_line(number, text, src)
