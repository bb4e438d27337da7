"""What a progress bar counts: the sampler's steps, loading, or other work (the bar table).

A prompt's phases are defined by what its time was spent on (segment/segmenter.py): ``inference``
is the sampler at work, ``load`` is weights being loaded or downloaded, and ``other`` is everything
else the prompt did -- the same work when it draws no bar: a VAE encoding or decoding, a text
encoder, an audio model cutting its input in chunks. A bar therefore takes the phase of the work it
counts, not ``inference`` for being a bar: a 588-frame VAE encode at 16.5 it/s is not 588 sampling
steps, and a Hugging Face ``Fetching 5 files`` is a download.

Which is which is data: the ``[[bar]]`` rows of messages.toml (a label pattern each, with the real
labels it is for and what prints them); ``bar_kind`` applies them, then the rules that are not about
one label: byte rates are downloads, no label is the sampler's, an unknown label is other work
unless the bar follows a video sampler's own ``Sampling N frames`` line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..dataclass import dataclass
from ..lazyre import LazyRegex, lazy_re
from ..model import BarKind
from .table import TableError, table_data


@dataclass(frozen=True)
class BarRow:
    """One ``[[bar]]`` row of messages.toml."""

    name: str
    kind: BarKind
    regex: LazyRegex
    examples: tuple[str, ...]
    source: str


def _bar_row(raw: dict[str, Any]) -> BarRow:
    name = str(raw.get("name", "?"))
    known = {"name", "kind", "regex", "examples", "source"}
    if set(raw) != known:
        raise TableError(f"bar {name!r}: keys {sorted(raw)}, expected {sorted(known)}")
    try:
        kind = BarKind(raw["kind"])
    except ValueError:
        raise TableError(f"bar {name!r}: kind {raw['kind']!r} is not one of "
                         f"{', '.join(k.value for k in BarKind)}") from None
    return BarRow(name, kind, lazy_re(raw["regex"]), tuple(raw["examples"]), str(raw["source"]))


def load_bar_rows(text: str | None = None) -> tuple[BarRow, ...]:
    """The ``[[bar]]`` rows of messages.toml (or of ``text``, a table in the same form), in order."""
    return tuple(_bar_row(raw) for raw in table_data(text).get("bar", ()))


BAR_ROWS = load_bar_rows()


def bar_row(label: str) -> BarRow | None:
    """The first row whose pattern is in ``label``; None for a label no row knows."""
    return next((row for row in BAR_ROWS if row.regex.search(label)), None)


@lru_cache(maxsize=512)
def _label_kind(label: str) -> BarKind | None:
    row = bar_row(label)
    return None if row is None else row.kind


def bar_kind(label: str | None, rate_unit: str, after_sampler_line: bool = False) -> BarKind:
    """What a bar counts, from its label and rate unit.

    A rate in bytes (``kB/s``, ``MB/s``) is a download whatever the label (often a file name). Then
    the bar table decides. A bar with no label is the sampler's: ComfyUI's samplers (k-diffusion's
    ``trange``) and diffusers' pipelines draw theirs without one. A label the table does not know is
    some node's own work, unless ``after_sampler_line``: the bar is the first one after a video
    wrapper's ``Sampling N frames ... with S steps`` line, which announces its sampler's loop.
    """
    if rate_unit.endswith("B/s"):
        return BarKind.LOADING
    if label is None:
        return BarKind.SAMPLING
    known = _label_kind(label)
    if known is not None:
        return known
    return BarKind.SAMPLING if after_sampler_line else BarKind.OTHER
