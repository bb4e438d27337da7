"""How every output writes times, durations and sizes: one place, so no two renderers disagree.

Logs with time-only prefixes (``[20:46:09]``) have no date: the parser dates them from
``TIME_ONLY_BASE`` (1900-01-01, a day later after each midnight rollover). Every output shows such
a time as the time of day only, never the sentinel date.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

#: Base date for time-only logs; a rollover past midnight moves to 1900-01-02 and so on.
TIME_ONLY_BASE = datetime(1900, 1, 1)


def is_time_only(ts: datetime) -> bool:
    """A time from a time-only prefix (dated from TIME_ONLY_BASE, whatever day it rolled over to)."""
    return ts.year == TIME_ONLY_BASE.year


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 for JSON and exports; the time of day only for a time-only log."""
    if ts is None:
        return None
    return ts.time().isoformat() if is_time_only(ts) else ts.isoformat()


def clock(ts: datetime | None) -> str:
    """``20:46:09``: the time of day (the date is shown where the run starts)."""
    return "—" if ts is None else ts.time().isoformat("seconds")  # strftime's %H:%M:%S, in a fifth of the time


def when(ts: datetime | None) -> str:
    """``2025-10-23 16:28:02``, or the time of day only for a time-only log."""
    if ts is None:
        return "—"
    return ts.strftime("%H:%M:%S") if is_time_only(ts) else ts.strftime("%Y-%m-%d %H:%M:%S")


def _millis(seconds: float) -> int:
    """``seconds`` to the millisecond, the precision every record keeps (segment/phases.py ``secs``).

    Every duration is shown from this, and rounded from it half up: a span kept exact (the header's
    14.749709 s, field6 14) and the same span kept to the millisecond (the run's 14.75 s) then read the
    same, where rounding each to the tenth on its own gave "14.7s" beside "14.8s".
    """
    return int(round(seconds * 1000))


def dur(seconds: float) -> str:
    """``51.1s``, ``6:04``, ``1:02:03``: minutes and hours the way ComfyUI prints them.

    The one rounding rule of every output: to the millisecond, then half up to the tenth below a minute
    and to the second above it (59.96 s is ``1:00``, not ``60.0s``).
    """
    ms = _millis(seconds)
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    tenths = (ms + 50) // 100
    if tenths < 600:
        return f"{sign}{tenths // 10}.{tenths % 10}s"
    h, rest = divmod((ms + 500) // 1000, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}"


def dur_compact(seconds: float) -> str:
    """``dur`` in at most five characters up to 100 hours, for tables on a narrow terminal: an hour or
    more to the minute (``6h43m``), shorter durations as ``dur`` writes them."""
    ms = _millis(seconds)
    if ms < 3_600_000 - 500:  # what dur writes below an hour (3599.5 s rounds to 1:00:00)
        return dur(seconds)
    h, m = divmod((ms + 30_000) // 60_000, 60)
    return f"{h}h{m:02d}m"


def signed_dur(seconds: float, compact: bool = False) -> str:
    """A difference of durations: ``+1:05``, ``−12.0s`` (a minus sign), rounded as ``dur`` rounds."""
    return ("+" if seconds >= 0 else "−") + fmt_s(abs(seconds), compact=compact)


def fmt_s(seconds: float | None, estimated: bool = False, compact: bool = False) -> str:
    """A duration as ``dur`` (or ``dur_compact``) writes it, ``—`` when unknown, ``~`` in front when
    estimated."""
    if seconds is None:
        return "—"
    return ("~" if estimated else "") + (dur_compact(seconds) if compact else dur(seconds))


def prompts_time_text(seconds: float, untimed: int, before_log: float = 0.0, untimed_timed: float = 0.0) -> str:
    """The caption of "where the time went": the prompts' seconds, how many ran without a total (not counted,
    never as 0) with what of them the rows do count (the phases they timed: field4 09, a prompt still sampling where
    the log ends, whose 1:06 was in the inference row while the caption's total left it out), and how much of them
    is before the log's first line (in no row: the log does not hold it)."""
    counted = (f"{dur(untimed_timed)} of {'it' if untimed == 1 else 'them'} timed, in the rows"
               if untimed and untimed_timed >= 0.05 else "")
    if untimed and not seconds:
        return (f"prompts not timed ({plural(untimed, 'prompt')}: no usable timestamps, no `Prompt executed in`"
                + (f"; {counted}" if counted else "") + ")")
    before = f", {dur(before_log)} of it before the log's first line (not in the log)" if before_log >= 0.05 else ""
    untold = (f", {plural(untimed, 'prompt')} without a total ({counted})" if counted
              else f", {plural(untimed, 'prompt')} not timed" if untimed else "")
    return f"prompts {dur(seconds)} in all" + before + untold


def gb(mb: float) -> str:
    """A GPU's size the way cards are sold: 24217 MB -> ``24 GB``."""
    return f"{max(1, round(mb / 1024))} GB"


def mib_text(mb: float) -> str:
    """A memory figure the way PyTorch writes it: ``7.71 GiB``, ``180 MiB``."""
    return f"{mb / 1024:.2f} GiB" if mb >= 1024 else f"{mb:.0f} MiB"


def listing(shown: Iterable[str], total: int, sep: str = ", ") -> str:
    """The first few of ``total`` things, already worded, joined by ``sep``, then `` and N more`` for the rest:
    ``a, b, c and 4 more``."""
    words = list(shown)
    return sep.join(words) + (f" and {total - len(words)} more" if total > len(words) else "")


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    """``1 prompt``, ``3 prompts``."""
    return f"{n} {word if n == 1 else (plural_form or word + 's')}"


def with_article(phrase: str, capital: bool = False) -> str:
    """``a 6 GB GPU``, ``an 8 GB GPU``, ``an 18-step sampling``: the article as the phrase is spoken.

    A number takes ``an`` when it is said with a vowel first: eight, eighty, eight hundred, and eleven
    or eighteen (thousand, million...) as its leading group of digits. A word goes by its first letter
    (``u`` takes ``a``: a user, a unified...).
    """
    number = re.match(r"\d[\d,]*", phrase)
    if number:
        digits = number.group().replace(",", "")
        lead = digits[: len(digits) % 3 or 3]
        vowel = digits.startswith("8") or lead in ("11", "18")
    else:
        vowel = phrase[:1].lower() in ("a", "e", "i", "o")
    article = "an" if vowel else "a"
    return f"{article.capitalize() if capital else article} {phrase}"


def basename(path: str) -> str:
    """The last part of a path written with either slash (``custom_nodes/NAME``: NAME)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def short_names(paths: Sequence[str]) -> list[str]:
    """Each input as a reader names it: its file name, or, when two inputs share a file name, its
    path from the folder they all share."""
    names = [basename(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    try:
        base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    except ValueError:  # different drives
        return list(paths)
    return [os.path.relpath(os.path.abspath(p), base) for p in paths]


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut (a path or a symbol keeps its
    first characters, where clip_words would cut back to the last space)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def span_text(span_s: float | None, minute_stamps: bool, own_spans: list[tuple[str, float | None]] | None = None,
              clock_backs: list[tuple[str | None, int]] | None = None) -> str:
    """What the header says of the log's length: minute stamps give it only to the minute; inputs
    whose clocks do not follow on (``own_spans``: each input's name and span) each on their own; where
    a clock goes back inside an input (``clock_backs``: index.clock_backs), that it does and where."""
    text = _span_only(span_s, minute_stamps, own_spans)
    if clock_backs:
        where = ", ".join(f"line {line}" if name is None else f"{name} line {line}" for name, line in clock_backs)
        text += f" (earliest to latest stamp: the clock goes back at {where}; logs joined out of order?)"
    return text


def _span_only(span_s: float | None, minute_stamps: bool, own_spans: list[tuple[str, float | None]] | None) -> str:
    if own_spans is not None:
        each = ", ".join(f"{name} {dur(s) if s is not None else 'no timestamps'}" for name, s in own_spans)
        return f"inputs' clocks out of order (one starts before the one read before it ends); each spans: {each}"
    if span_s is None:
        return "no timestamps (durations as printed)"
    if not minute_stamps:
        return f"log spans {dur(span_s)}"
    if span_s < 60:
        return "minute timestamps, all in one minute"
    return f"minute timestamps: log spans about {dur(span_s)}"
