"""tqdm progress states in a line: ``Sampling:  50%|█████     | 1/2 [01:57<01:57, 117.60s/it]``."""

from __future__ import annotations

import re

from ..lazyre import lazy_re

# ``Sampling:  50%|█████     | 1/2 [01:57<01:57, 117.60s/it]``. The label is whatever stands before
# the percentage in the same CR-separated state; n/total may carry SI suffixes on download bars.
_COUNTS = (
    r"(?P<n>\d+(?:\.\d+)?[kMGTP]?)/(?P<total>\d+(?:\.\d+)?[kMGTP]?)\s*"
    r"\[(?P<elapsed>\d+(?::\d{2}){1,2})(?:<(?P<remaining>[\d:?]+))?,\s*"
    r"(?P<rate>\d+(?:\.\d+)?|\?)\s*(?P<unit>[^\],\s]*)(?P<postfix>,[^\]]{0,300})?\]"
)
PROGRESS_RE = lazy_re(r"(?P<label>[^\r|]{0,300}?)(?P<pct>\d{1,3})%\|(?P<bar>[^|\r]{0,400})\|\s*" + _COUNTS)
PROGRESS_EXAMPLE = " 50%|█████     | 1/2 [01:57<01:57, 117.60s/it]"
#: tqdm drawn without its bar (no terminal width): ``100% 35/35 [00:03<00:00, 11.47it/s]``. Only at
#: the start of a state (after a CR or the line's prefix): ``45% `` is common prose elsewhere.
BARLESS_RE = lazy_re(r"(?P<label>[^\r|%]{0,300}?)(?P<pct>\d{1,3})% +" + _COUNTS)
BARLESS_EXAMPLE = "100% 35/35 [00:03<00:00, 11.47it/s]"
#: Longest label PROGRESS_RE takes (keep in step with its ``{0,300}``).
PROGRESS_LABEL_CHARS = 300


def search_progress(text: str) -> re.Match[str] | None:
    """``PROGRESS_RE.search(text)``, the same match, in time linear in the length of ``text``.

    A plain search tries the lazy label from every position: up to 300 steps each, seconds on a
    hostile 100 kB line. Every match has ``%|`` right after its percentage, and its label starts
    after the last ``\\r`` or ``|`` before it and at most 300 characters before it; so only that
    start is tried, for each ``%|`` in turn (an earlier start could only reach an earlier ``%|``).
    """
    find = text.find("%|")
    while find >= 0:
        pct = find
        while pct > find - 3 and pct > 0 and text[pct - 1].isdecimal():  # what \d matches
            pct -= 1
        if pct < find:
            low = max(0, pct - PROGRESS_LABEL_CHARS)
            start = max(low, text.rfind("\r", low, pct) + 1, text.rfind("|", low, pct) + 1)
            m = PROGRESS_RE.match(text, start)
            if m is not None:
                return m
        find = text.find("%|", find + 1)
    return None


def find_state(text: str) -> re.Match[str] | None:
    """The first tqdm state in ``text``: a barless one at its start, else the first drawn bar."""
    if "% " in text:
        m = BARLESS_RE.match(text)
        if m is not None:
            return m
    return search_progress(text) if "%|" in text else None


SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def si_number(text: str) -> float:
    if text and text[-1] in SI:
        return float(text[:-1]) * SI[text[-1]]
    return float(text)


def bar_seconds(elapsed_s: float, done: float, rate: float | None, unit: str) -> float:
    """A bar's running time, finer than tqdm's elapsed, which is whole seconds cut down.

    ``8/8 [00:07<00:00, 1.05it/s]`` ran 8 / 1.05 = 7.6 s: the count over the rate, taken when it
    falls in the second the elapsed allows (tqdm's rate is smoothed, so near a change of pace the
    two disagree, and then the printed elapsed stands).
    """
    if rate is None or rate <= 0 or done <= 0:
        return elapsed_s
    if unit == "s/it":
        seconds = done * rate
    elif unit.endswith("/s"):
        base = unit[:-2]
        scale = SI[base[0]] if len(base) > 1 and base[0] in SI else 1.0
        seconds = done / (rate * scale)
    else:
        return elapsed_s
    return round(seconds, 3) if elapsed_s <= seconds < elapsed_s + 1 else elapsed_s
