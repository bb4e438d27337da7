"""The message table (src/comfylog/parse/messages.toml) is complete data: every row's example is a
real line that makes that row's event with exactly the fields the row declares, no earlier row takes
it, and the segmenter says what it does with every event kind."""

from __future__ import annotations

import re
from functools import lru_cache

import pytest

from comfylog.events import Activity, Event, EventKind
from comfylog.parse import parse
from comfylog.parse.progress import PROGRESS_EXAMPLE, PROGRESS_RE
from comfylog.parse.table import (
    FIELD_VALUE_TYPES,
    PATTERNS,
    RESERVED_FIELDS,
    Pattern,
    TableError,
    find_message,
    load_table,
    match_fields,
    messages_markdown,
)
from comfylog.read.clean import ANSI_RE
from comfylog.read.source import RawLine
from comfylog.segment.segmenter import HANDLERS, INFORMATIONAL, START_STAGE

from .conftest import CORPUS, EXAMPLES, FIXTURES, ROOT

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
    assert pattern.example in real_text(), (
        f"{pattern.name}: its example is in no real log; quote the line from the source that prints it in "
        f"{UPSTREAM.relative_to(UPSTREAM.parents[2])} (with the file it comes from)")


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_example_makes_its_event_with_the_declared_fields(pattern: Pattern) -> None:
    found = find_message(pattern.example)
    assert found is not None and found[0].name == pattern.name, (
        f"{pattern.name}: its example is taken by the earlier row {found[0].name if found else None!r}; "
        "make that row's regex stricter or move this row before it")
    fields = match_fields(pattern, found[1])
    declared = {f.name: f for f in pattern.fields}
    required = {f.name for f in pattern.fields if not f.optional}
    got = set(fields) - {name for name, _ in pattern.constants}
    assert required <= got, f"{pattern.name}: the example lacks the required fields {sorted(required - got)}"
    assert got <= set(declared), f"{pattern.name}: undeclared fields {sorted(got - set(declared))}"
    for name in got:
        want = FIELD_VALUE_TYPES[declared[name].type]
        assert isinstance(fields[name], want), f"{pattern.name}.{name}: {fields[name]!r} is not {want.__name__}"
    items = list(parse([RawLine(1, pattern.example)]))
    events = [e for e in items if isinstance(e, Event)]
    if pattern.kind is EventKind.BACKGROUND:  # another thread's line: no event
        assert not events, pattern.name
        return
    assert events and events[0].kind is pattern.kind, pattern.name
    assert events[0].fields["pattern"] == pattern.name
    assert events[0].fields["text"] == pattern.example


def test_a_background_line_is_no_activity_and_its_time_goes_to_the_line_after_it() -> None:
    """044: ComfyUI-Manager's registry fetch printed while a checkpoint loaded; the load line after it claims the
    whole gap since `got prompt` (review stop22), and a line with a message of its own stays an activity."""
    stamp = "2026-01-02T08:36:{:02d}.000000000Z "
    lines = ["got prompt", "FETCH ComfyRegistry Data: 5/117", "model weight dtype torch.float16, manual cast: None",
             "[ComfyUI-Manager] FETCH ComfyRegistry Data [DONE]"]
    items = list(parse([RawLine(i + 1, stamp.format(24 + 5 * i) + text) for i, text in enumerate(lines)]))
    assert [a.first_line for a in items if isinstance(a, Activity)] == [1, 3]
    assert [e.kind for e in items if isinstance(e, Event)] == [EventKind.PROMPT_RECEIVED, EventKind.LOAD_DETAIL]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_every_needle_occurs_in_what_its_regex_matches(pattern: Pattern) -> None:
    """The prefilter would hide a line whose match does not contain one of the row's needles."""
    assert any(n in pattern.example for n in pattern.needles), pattern.name


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_regex_is_in_the_subset_both_engines_run(pattern: Pattern) -> None:
    """No look-around or back-reference: the native scanner's `regex` crate has neither."""
    sources = [pattern.regex.pattern] + ([pattern.not_followed_by.pattern] if pattern.not_followed_by else [])
    for source in sources:
        bad = re.search(r"\(\?<?[=!]|\(\?P=|\\[1-9]", source)
        assert bad is None, f"{pattern.name}: {bad.group(0)!r} is not in the common regex subset" if bad else ""
    assert not {f.name for f in pattern.fields} & RESERVED_FIELDS, pattern.name


def test_every_event_kind_says_what_the_segmenter_does_with_it() -> None:
    for kind in EventKind:
        actions = [name for name, table in (("HANDLERS", HANDLERS), ("START_STAGE", START_STAGE),
                                            ("INFORMATIONAL", INFORMATIONAL)) if kind in table]
        assert actions, (f"event kind {kind.value!r} has no action: add its handler to HANDLERS in "
                         "segment/segmenter.py, or list it in INFORMATIONAL if the segmenter reads nothing of it")
        assert not (kind in HANDLERS and kind in INFORMATIONAL), f"{kind.value}: both handled and informational"


def test_rows_of_one_kind_agree_on_their_field_types() -> None:
    types: dict[tuple[EventKind, str], str] = {}
    for pattern in PATTERNS:
        for f in pattern.fields:
            seen = types.setdefault((pattern.kind, f.name), f.type)
            assert seen == f.type, f"{pattern.name}: {pattern.kind.value}.{f.name} is {f.type} here, {seen} elsewhere"


def test_pattern_names_are_unique() -> None:
    names = [p.name for p in PATTERNS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)


BAD_ROW = """
[[message]]
name = "{name}"
kind = "{kind}"
needles = ["x"]
regex = '{regex}'
{fields}
example = "x 1"
"""


@pytest.mark.parametrize(("kind", "regex", "fields", "says"), [
    ("no_such_kind", "x", "", "is not an EventKind; add it to events.py"),
    ("device", r"x (?P<n>\d+)", "", "must be the declared fields"),
    ("device", r"x (?P<n>\d+)", 'fields = { n = "integer" }', "unknown type"),
])
def test_a_bad_row_is_refused_with_what_to_do(kind: str, regex: str, fields: str, says: str) -> None:
    with pytest.raises(TableError, match=says):
        load_table(BAD_ROW.format(name="bad", kind=kind, regex=regex, fields=fields))


def test_progress_example() -> None:
    m = PROGRESS_RE.search(PROGRESS_EXAMPLE)
    assert m and (m.group("n"), m.group("total"), m.group("rate"), m.group("unit")) == ("1", "2", "117.60", "s/it")


def test_every_upstream_message_is_understood() -> None:
    """Each message quoted from upstream source makes an event (they exist because we parse them)."""
    for line in UPSTREAM.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        events = [e for e in parse([RawLine(1, line)]) if isinstance(e, Event)]
        assert events, line


def test_readme_messages_table_is_generated_from_the_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- messages:start -->\n", "<!-- messages:end -->"
    assert start in readme and end in readme, "README lacks the messages markers"
    section = readme.split(start, 1)[1].split(end, 1)[0]
    assert section == messages_markdown(), "regenerate: python scripts/readme_tables.py"
    for pattern in PATTERNS:
        assert f"| `{pattern.name}` | {pattern.kind.value} |" in section


def test_each_rows_named_groups_are_read_from_its_text_in_the_compiled_order() -> None:
    """The native scanner's field positions come from the regex text (compiling a hundred rows costs start-up):
    the order must be Python's group numbers, and the set the groups the compiled regex has."""
    for pattern in PATTERNS:
        compiled = pattern.regex.groupindex
        assert pattern.group_names == tuple(sorted(compiled, key=compiled.__getitem__)), pattern.name
