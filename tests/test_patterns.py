"""The message table: every row's example is a real line, and it produces that row's event."""

from __future__ import annotations

import re
from functools import lru_cache

import pytest

from comfylog.events import Event
from comfylog.parse import parse
from comfylog.parse.progress import PROGRESS_EXAMPLE, PROGRESS_RE
from comfylog.parse.table import PATTERNS, Pattern
from comfylog.read.clean import ANSI_RE
from comfylog.read.source import RawLine

from .conftest import CORPUS, EXAMPLES, FIXTURES

#: Lines quoted from upstream source for messages no corpus log contains (see that file's comments).
UPSTREAM = FIXTURES / "upstream-messages.txt"


@lru_cache(maxsize=1)
def real_text() -> str:
    files = [*EXAMPLES.glob("*.log"), UPSTREAM]
    if CORPUS.is_dir():
        files += [*(CORPUS / "logs").glob("*.log"), *(CORPUS / "scenarios").glob("*.log")]
    return "\n".join(ANSI_RE.sub("", f.read_text(encoding="utf-8", errors="replace")) for f in files)


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_example_is_a_real_line(pattern: Pattern) -> None:
    if not CORPUS.is_dir() and pattern.example not in real_text():
        pytest.skip("shared corpus absent")
    assert pattern.example in real_text(), f"{pattern.name}: example not found in any real log"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_example_makes_its_event(pattern: Pattern) -> None:
    events = [e for e in parse([RawLine(1, pattern.example)]) if isinstance(e, Event)]
    assert events, pattern.name
    assert events[0].kind is pattern.kind
    m = pattern.regex.search(pattern.example)
    assert m is not None
    assert events[0].fields["pattern"] == pattern.name
    assert events[0].fields["text"] == pattern.example


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_every_needle_occurs_in_what_its_regex_matches(pattern: Pattern) -> None:
    """The prefilter would hide a line whose match does not contain one of the row's needles."""
    assert any(n in pattern.example for n in pattern.needles), pattern.name


def test_progress_example() -> None:
    m = PROGRESS_RE.search(PROGRESS_EXAMPLE)
    assert m and (m.group("n"), m.group("total"), m.group("rate"), m.group("unit")) == ("1", "2", "117.60", "s/it")


def test_pattern_names_are_unique() -> None:
    names = [p.name for p in PATTERNS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z_]+", n) for n in names)


def test_every_upstream_message_is_understood() -> None:
    """Each message quoted from upstream source makes an event (they exist because we parse them)."""
    for line in UPSTREAM.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        events = [e for e in parse([RawLine(1, line)]) if isinstance(e, Event)]
        assert events, line
