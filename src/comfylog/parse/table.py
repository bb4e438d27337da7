"""The message table, loaded from messages.toml: each row's needles, regex and typed fields.

The rows are data (messages.toml says what a row holds); this module compiles them once, finds the
message a line holds (``find_message``: one scan for every needle at once, then only the rows of
the needle found) and turns a match into typed fields (``match_fields``). Adding a message is a row
in messages.toml; a new field type is a converter in FIELD_TYPES.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Callable
from functools import cache, cached_property
from typing import Any

from ..dataclass import dataclass
from ..events import EventKind, Phase
from ..lazyre import lazy_re

Converter = Callable[[str], Any]


def hms_seconds(text: str) -> float:
    """``00:10:50`` -> 650.0 (``Prompt executed in`` past ten minutes, tqdm's elapsed)."""
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


# Anchored at a word start and bounded: ``(\w+) \(`` retried from every character of a long word is quadratic.
QTYPE_RE = lazy_re(r"\b(\w{1,64}) \((\d{1,12})\)")


def gguf_qtypes(text: str) -> dict[str, int]:
    """``F32 (2), F16 (693), Q5_K (400)`` -> ``{"F32": 2, "F16": 693, "Q5_K": 400}``."""
    return {name: int(count) for name, count in QTYPE_RE.findall(text)}


def _flag(text: str) -> bool:
    return True


#: The field types a row may declare, and how each turns the matched text into a value.
FIELD_TYPES: dict[str, Converter] = {
    "int": int,
    "float": float,
    "mb": float,
    "hms": hms_seconds,
    "text": str,
    "flag": _flag,
    "qtypes": gguf_qtypes,
}
#: What a field's value is, by type (tests check examples against these).
FIELD_VALUE_TYPES: dict[str, type] = {
    "int": int, "float": float, "mb": float, "hms": float, "text": str, "flag": bool, "qtypes": dict,
}
#: Field names every event carries besides its row's own: they cannot be a row's fields.
RESERVED_FIELDS = frozenset({"pattern", "text"})


@dataclass(frozen=True)
class Field:
    """A named group of a row's regex: its type, and whether every match has it."""

    name: str
    type: str
    optional: bool = False


#: A named group of a regex, where it opens (``(?P<name>``): their order is the order of the groups.
NAMED_GROUP_RE = lazy_re(r"\(\?P<(\w+)>")


@dataclass(frozen=True)
class Pattern:
    """One row of messages.toml; its regexes are compiled on first use (the native scanner compiles
    the rows itself: a run on it never needs Python's, ~25 ms of start-up for a hundred rows)."""

    name: str
    kind: EventKind
    #: Literal text(s), one of which every matching line contains.
    needles: tuple[str, ...]
    regex_text: str
    example: str
    fields: tuple[Field, ...] = ()
    phase: Phase = Phase.OTHER
    #: Two messages can be glued on one line (``got promptLoading 1 new model``): after this
    #: pattern matches, the rest of the line is parsed again.
    glued: bool = False
    #: Constant fields added to the event.
    constants: tuple[tuple[str, Any], ...] = ()
    #: A match followed by this is no match (a look-ahead both regex engines can run).
    not_followed_text: str | None = None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.regex_text)

    @cached_property
    def not_followed_by(self) -> re.Pattern[str] | None:
        return None if self.not_followed_text is None else re.compile(self.not_followed_text)

    @cached_property
    def group_names(self) -> tuple[str, ...]:
        """The regex's named groups in their order (the order the native scanner gives their text in)."""
        return tuple(NAMED_GROUP_RE.findall(self.regex_text))

    def search(self, text: str) -> re.Match[str] | None:
        """The first match of the row in ``text`` (``not_followed_by`` honoured)."""
        m = self.regex.search(text)
        if self.not_followed_by is None:
            return m
        while m is not None and self.not_followed_by.match(text, m.end()):
            m = self.regex.search(text, m.start() + 1)
        return m


class TableError(ValueError):
    """messages.toml holds a row that cannot be used; the message names the row and what is wrong."""


def _row(raw: dict[str, Any]) -> Pattern:
    name = str(raw.get("name", "?"))
    known = {"name", "kind", "needles", "regex", "not_followed_by", "fields", "phase", "glued", "constants", "example"}
    unknown = set(raw) - known
    if unknown:
        raise TableError(f"message {name!r}: unknown keys {sorted(unknown)} (known: {sorted(known)})")
    try:
        kind = EventKind(raw["kind"])
    except ValueError:
        raise TableError(f"message {name!r}: kind {raw['kind']!r} is not an EventKind; add it to events.py "
                         "and say in segment/segmenter.py what the segmenter does with it") from None
    fields = []
    for field_name, declared in raw.get("fields", {}).items():
        type_name = declared.rstrip("?")
        if type_name not in FIELD_TYPES:
            raise TableError(f"message {name!r}: field {field_name!r} has unknown type {declared!r} "
                             f"(known: {', '.join(FIELD_TYPES)})")
        fields.append(Field(field_name, type_name, declared.endswith("?")))
    groups = NAMED_GROUP_RE.findall(raw["regex"])
    if set(groups) != {f.name for f in fields}:
        raise TableError(f"message {name!r}: the regex's named groups {sorted(groups)} must be the "
                         f"declared fields {sorted(f.name for f in fields)}")
    not_followed = raw.get("not_followed_by")
    return Pattern(
        name=name,
        kind=kind,
        needles=tuple(raw["needles"]),
        regex_text=raw["regex"],
        example=raw["example"],
        fields=tuple(fields),
        phase=Phase(raw.get("phase", "other")),
        glued=bool(raw.get("glued", False)),
        constants=tuple(raw.get("constants", {}).items()),
        not_followed_text=not_followed or None,
    )


def table_data(text: str | None = None) -> dict[str, Any]:
    """messages.toml (or ``text``, a table in the same form) as TOML data (messages.toml read once)."""
    data: dict[str, Any] = _messages_toml() if text is None else _toml_loads(text)
    return data


@cache
def _messages_toml() -> dict[str, Any]:
    """messages.toml's data: read by the native module where it is installed (tomldata.rs gives what
    tomllib gives, ~1 ms where tomllib and its import took ~30 ms of every start-up), else by tomllib."""
    try:
        native = importlib.import_module("comfylog._native")
        data: dict[str, Any] = native.table_data(TABLE_TEXT)
    except (ImportError, AttributeError, ValueError):  # not installed, older, or a value only tomllib makes
        return _toml_loads(TABLE_TEXT)
    return data


def _toml_loads(text: str) -> dict[str, Any]:
    """``text`` read by tomllib (imported here: a run with the native module never needs it)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the backport (a dependency there)
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    data: dict[str, Any] = tomllib.loads(text)
    return data


def load_table(text: str | None = None) -> tuple[tuple[Pattern, ...], dict[str, str]]:
    """The rows and text classes of messages.toml (or of ``text``, a table in the same form)."""
    data = table_data(text)
    return tuple(_row(raw) for raw in data["message"]), dict(data.get("text_classes", {}))


def _table_text() -> str:
    """messages.toml's text, from the package's loader (a folder, a zip) through pkgutil: importlib.resources
    and the zipfile module it imports were ~13 ms of every start-up."""
    data = pkgutil.get_data(__package__, "messages.toml")
    if data is None:  # a loader that cannot read its package's files
        raise TableError("messages.toml cannot be read from comfylog's package")
    return data.decode("utf-8")


#: messages.toml as text: the native scanner compiles the same rows from it (parse/native.py).
TABLE_TEXT = _table_text()
PATTERNS, TEXT_CLASSES = load_table()
#: Text that means the GPU ran out of memory, wherever it appears.
OOM_RE = lazy_re(TEXT_CLASSES["oom"])


def is_oom(text: str) -> bool:
    return OOM_RE.search(text) is not None


DEVICE_INDEX_RE = lazy_re(r"^(?:cuda|xpu|mps|npu|mlu):\d+\s+")
# Starts only where a run of spaces starts (where a match starts anyway): from every space it is quadratic.
ALLOCATOR_SUFFIX_RE = lazy_re(r"(?<!\s)\s+:\s+\S+$")


def gpu_name(device: str) -> str:
    """``cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync`` -> ``NVIDIA GeForce RTX 4090``."""
    name = DEVICE_INDEX_RE.sub("", device.strip())
    return ALLOCATOR_SUFFIX_RE.sub("", name)


@cache
def needle_re() -> re.Pattern[str]:
    """One regex that finds any needle: the cheap prefilter run on every line (made on first use)."""
    return re.compile("|".join(sorted({re.escape(n) for p in PATTERNS for n in p.needles}, key=len, reverse=True)))


BY_NEEDLE: dict[str, tuple[Pattern, ...]] = {}
for _pattern in PATTERNS:
    for _needle in _pattern.needles:
        BY_NEEDLE[_needle] = BY_NEEDLE.get(_needle, ()) + (_pattern,)


def find_message(text: str) -> tuple[Pattern, re.Match[str]] | None:
    """The message in ``text``: at the first needle whose patterns match, the first that matches.

    Each pattern is searched at most once per text (whether it matches does not depend on which
    needle led to it), so a line holding a needle thousands of times costs one scan per pattern,
    not one per needle found.
    """
    pos = 0
    failed: set[str] = set()
    needles = needle_re()
    while True:
        m = needles.search(text, pos)
        if m is None:
            return None
        for pattern in BY_NEEDLE[m.group(0)]:
            if pattern.name in failed:
                continue
            pm = pattern.search(text)
            if pm:
                return pattern, pm
            failed.add(pattern.name)
        pos = m.start() + 1


def match_fields(pattern: Pattern, m: re.Match[str]) -> dict[str, Any]:
    """The row's constants and its matched groups, typed (a group that did not match is left out)."""
    fields: dict[str, Any] = dict(pattern.constants)
    for f in pattern.fields:
        value = m.group(f.name)
        if value is not None:
            fields[f.name] = FIELD_TYPES[f.type](value)
    return fields


def messages_markdown() -> str:
    """The message table as markdown (the README section between the messages markers): each row's
    name, the event it makes, the phase the time before it gets, and its real example line."""
    rows = ["| message | event | time before it | example |", "|---|---|---|---|"]
    for p in PATTERNS:
        example = p.example.replace("|", "\\|")
        fence = "``" if "`" in example else "`"
        rows.append(f"| `{p.name}` | {p.kind.value} | {p.phase.value} | {fence} {example} {fence} |")
    return "\n".join(rows) + "\n"
