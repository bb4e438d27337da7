"""RunPod's own log shapes: the web console's copy and the log stream's SSE.

What real samples show (tests/fixtures/README.md names them):

* The console's **download** (``logs.txt``) is docker's ``--timestamps`` form, RFC 3339 with nine
  fraction digits and ``Z`` (corpus 028-048): prefixes.py reads it; nothing here.
* Text **copied** from the console's log view puts each cell on a line of its own (a 2024 copy,
  runpod-workers/worker-comfyui#79): ``2024-11-19 14:00:45.074`` / ``[c7msa02ut39p9w]`` (the worker) /
  ``[info]`` / the message. A record is folded here into one console row, ``DATE  TIME | level | worker
  | message``, one per message line: PrefixReader's ``runpod-console`` style gives it its time.
* Today's worker view (a 2026 screenshot, transcribed) shows ``2026-06-04T13:16:48.452Z [info]
  message`` on one line, runpod-python's JSON already turned into its message: a docker stamp, then a
  lower-case level tag, which PrefixReader strips.
* The one-row form ``2025-11-10  21:50:27.563 | info | x4twfmpe23foac | message\\n`` with a write's
  newlines and carriage returns written out as ``\\n`` and ``\\r`` is the shape issue 13 quotes; no
  real sample of it was found. It is still read: each row is split into the lines it held.

A copy whose stamps go back in time is newest first: its records are read back oldest first (the
Source says so, ``newest_first``), and line numbers count the log's lines in time order, not the
file's rows. A copy already oldest first is read in its own order.

**Log stream** (API v2, docs.runpod.io/api-reference-v2/pods/stream-pod-logs): Server-Sent Events,
``id: 2026-06-01T12:02:03Z/000000000001`` then ``data: {"ts":"2026-06-01T12:02:03Z","source":"container",
"line":"Model loaded."}`` (the docs' example: compact JSON, any key order). PrefixReader reads the data
lines; the SSE framing around them (``id:``, ``event:``, ``retry:``, comments, the blank line that ends
an event) is no log and is left out here, so it cannot end a traceback or split a bar.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from ..lazyre import lazy_re
from .clean import finish_line
from .source import RawLine, Source

#: The prefix of a console row: date, two spaces, time, level, worker id, message.
CONSOLE_ROW_RE = lazy_re(
    r"(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?\s*\|\s*[A-Za-z]+\s*\|\s*[\w-]*\s*\|\s?"
)
#: A copied record's first line: its time alone (the console's cells each land on a line).
STACKED_STAMP_RE = lazy_re(
    r"(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?Z?"
)
#: A copied record's worker (``[c7msa02ut39p9w]``) or level (``[info]``) cell.
STACKED_CELL_RE = lazy_re(r"\[(?P<cell>[\w-]+)\]")
#: The console's level names, to tell a lone level cell from a lone worker cell.
CONSOLE_LEVELS = frozenset({"debug", "info", "warn", "warning", "error", "critical", "fatal", "trace"})
#: Rows looked at to decide: all of the first ones that are not blank must be console rows.
CONSOLE_PEEK_ROWS = 5
#: Records held to reverse a newest-first copy (it must be read whole first); the rest are not read.
CONSOLE_MAX_ROWS = 2_000_000


def console_order(peeked: list[tuple[int, str]]) -> str | None:
    """``"newest-first"`` or ``"oldest-first"`` when the peeked rows are a console copy, else None."""
    filled = (t for _, t in peeked if t.strip())
    rows = list(itertools.islice(filled, CONSOLE_PEEK_ROWS))  # the rest only for a console copy
    if _stacked(rows):
        rows += filled
        stamps = [m.group("date", "hms", "frac") for t in rows if (m := STACKED_STAMP_RE.fullmatch(t.strip()))]
    else:
        if not rows or not all(CONSOLE_ROW_RE.match(t) for t in rows):
            return None  # (decided on the first rows: a log is not read whole for this)
        rows += filled
        if not any("\\n" in t for t in rows):
            return None  # the one-row copy writes every newline out; a log whose prefix merely looks alike does not
        stamps = [m.group("date", "hms", "frac") for t in rows if (m := CONSOLE_ROW_RE.match(t))]
    first, last = ((d, h, (f or "").ljust(9, "0")) for d, h, f in (stamps[0], stamps[-1]))
    return "newest-first" if first > last else "oldest-first"


def _stacked(rows: list[str]) -> bool:
    """True when the first rows that are not blank open a copied record: a time, then a cell."""
    return len(rows) >= 3 and STACKED_STAMP_RE.fullmatch(rows[0].strip()) is not None and (
        STACKED_CELL_RE.fullmatch(rows[1].strip()) is not None)


def console_lines(rows: Iterable[tuple[int, str]], src: Source, newest_first: bool) -> Iterator[RawLine]:
    """The log lines of a console copy, in time order, numbered from 1."""
    records = _records(rows)
    if newest_first:
        held: list[list[str]] = []
        for record in records:
            if len(held) == CONSOLE_MAX_ROWS:
                src.stopped = (f"a newest-first console copy longer than {CONSOLE_MAX_ROWS:,} rows: "
                               "only its newest rows were read")
                break
            held.append(record)
        records = reversed(held)
    number = 0
    for record in records:
        for text in record:
            number += 1
            yield finish_line(number, text, src)


def _records(rows: Iterable[tuple[int, str]]) -> Iterator[list[str]]:
    """Each console record as the log lines it held, every line with its console-row prefix."""
    rows = iter(rows)
    for _, first in rows:
        if first.strip():
            break
    else:
        return
    if not STACKED_STAMP_RE.fullmatch(first.strip()):
        yield _row_lines(first.rstrip("\r"))
        for _, row in rows:
            yield _row_lines(row.rstrip("\r"))
        return
    yield from _stacked_records(itertools.chain([first], (row for _, row in rows)))


def _stacked_records(rows: Iterable[str]) -> Iterator[list[str]]:
    """Copied records (time, worker and level cells, then the message's lines) as console rows.

    Blank lines are dropped: RunPod keeps no empty message (its download has none)."""
    stamp: re.Match[str] | None = None
    cells: list[str] = []
    body: list[str] = []
    for row in rows:
        text = row.rstrip("\r")
        bare = text.strip()
        if not bare:
            continue
        m = STACKED_STAMP_RE.fullmatch(bare)
        if m is not None:
            if stamp is not None:
                yield _stacked_record(stamp, cells, body)
            stamp, cells, body = m, [], []
            continue
        cell = STACKED_CELL_RE.fullmatch(bare)
        if cell is not None and not body and len(cells) < 2:
            cells.append(cell.group("cell"))
            continue
        body.append(text)
    if stamp is not None:
        yield _stacked_record(stamp, cells, body)


def _stacked_record(stamp: re.Match[str], cells: list[str], body: list[str]) -> list[str]:
    """One copied record's lines, each as a console row (``DATE  TIME | level | worker | line``)."""
    if len(cells) == 2:
        worker, level = cells
    elif cells and cells[0].lower() in CONSOLE_LEVELS:
        worker, level = "", cells[0]
    else:
        worker, level = (cells[0] if cells else ""), "info"
    if not level.isalpha():
        level = "info"
    frac = stamp.group("frac")
    prefix = f"{stamp.group('date')}  {stamp.group('hms')}{'.' + frac if frac else ''} | {level} | {worker} | "
    return [prefix + line for line in body] or [prefix]


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
