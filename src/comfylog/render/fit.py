"""Terminal tables that measure themselves so that no number is ever cut.

A table that does not fit the terminal first closes its spacing to one space (and loses its
edges), then lets its text columns (names, prose) wrap at spaces and at ``-``, ``_``, ``.``, ``/``
down to their least width, then writes durations of an hour or more to the minute (``6h43m``,
text.dur_compact), then leaves out whole columns in a stated order; the caption says which. A
number column never wraps and is never cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from ..dataclass import dataclass

Cell = str | Text
#: Where a wrapped text may break: after a space run, or after a separator of names and paths.
BREAK_AFTER = re.compile(r"\s+|[-_./\\]+")


@dataclass
class Column:
    """One column: its header, how its cells are justified, its cells (a cell may hold lines), and,
    for a text column that may wrap, the least width it wraps to (None: every line whole)."""

    name: str
    cells: list[Cell]
    justify: str = "left"
    wrap: int | None = None

    @property
    def natural(self) -> int:
        """Cells the column takes with nothing wrapped: its widest line, header included."""
        return max([_lines_width(self.name)] + [_lines_width(c) for c in self.cells])

    @property
    def least(self) -> int:
        """Cells the column takes wrapped as far as it may (its header stays whole)."""
        return self.natural if self.wrap is None else min(self.natural, max(self.wrap, _lines_width(self.name)))


@dataclass
class Fit:
    """The columns as they fit: their widths, the spacing after each, and the columns left out."""

    columns: list[Column]
    widths: list[int]
    padding: int
    dropped: list[str]

    @property
    def dropped_note(self) -> str | None:
        if not self.dropped:
            return None
        return f"not shown at this width: {', '.join(self.dropped)} (a wider terminal or --format json shows them)"


def _lines_width(cell: Cell) -> int:
    plain = cell.plain if isinstance(cell, Text) else cell
    return max(cell_len(line) for line in plain.split("\n"))


def table_width(widths: Sequence[int], padding: int) -> int:
    """Cells a SIMPLE_HEAD table of columns ``widths`` wide takes: the one-space rule between
    columns and ``padding`` after each but the last, and the two edges when padded (a closed-up
    table has none)."""
    return sum(widths) + (len(widths) - 1) * (1 + padding) + (2 if padding else 0)


def fit_columns(build: Callable[[bool], list[Column]], width: int, drops: Sequence[str] = ()) -> Fit:
    """The table ``build(compact)`` makes, fitted to ``width`` the gentlest way that works (the module's
    order). When even the last step does not fit, the table is as narrow as it can be."""
    columns = build(False)
    for padding in (1, 0):
        natural = [c.natural for c in columns]
        if table_width(natural, padding) <= width:
            return Fit(columns, natural, padding, [])
    if table_width([c.least for c in columns], 0) > width:
        columns = build(True)
    dropped: list[str] = []
    for name in drops:
        if table_width([c.least for c in columns], 0) <= width:
            break
        if any(c.name == name for c in columns):
            columns = [c for c in columns if c.name != name]
            dropped.append(name)
    return Fit(columns, _widths(columns, width), 0, dropped)


def _widths(columns: list[Column], width: int) -> list[int]:
    """Each column's width at padding 0: a wrapping column gets its least width and then, one cell at
    a time, the room left goes to the narrowest wrapping column still short of its natural width."""
    widths = [c.least for c in columns]
    room = width - table_width(widths, 0)
    while room > 0:
        short = [(w, i) for i, (c, w) in enumerate(zip(columns, widths, strict=True)) if w < c.natural]
        if not short:
            break
        widths[min(short)[1]] += 1
        room -= 1
    return widths


def wrap_cell(cell: Cell, width: int) -> Cell:
    """``cell`` broken into lines of at most ``width`` cells: after spaces and name separators where
    it can, inside a word only when a word alone is wider (its styles kept)."""
    text = cell if isinstance(cell, Text) else Text(cell)
    lines: list[Text] = []
    for line in text.split("\n", allow_blank=True):
        lines.extend(_wrap_line(line, width))
    wrapped = Text("\n").join(lines)
    return wrapped if isinstance(cell, Text) else wrapped.plain


def _wrap_line(line: Text, width: int) -> list[Text]:
    plain = line.plain
    if cell_len(plain) <= width:
        return [line]
    ends = [m.end() for m in BREAK_AFTER.finditer(plain)]
    out: list[Text] = []
    start = 0
    while cell_len(plain[start:]) > width:
        fits = [e for e in ends if start < e and cell_len(plain[start:e].rstrip()) <= width]
        cut = fits[-1] if fits else start + max(1, _fold_at(plain[start:], width))
        piece = line[start:cut]
        piece.rstrip()  # in place
        out.append(piece)
        start = cut
        while start < len(plain) and plain[start] == " ":
            start += 1
    if start < len(plain):
        out.append(line[start:])
    return out


def _fold_at(text: str, width: int) -> int:
    """Characters of ``text`` that fill ``width`` cells."""
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return i
    return len(text)


def fitted_table(fit: Fit, title: str, notes: Sequence[str | None] = ()) -> Table:
    """The rich table of ``fit``: each column its width, no cell cut (wrapping columns wrapped here),
    the notes and the left-out columns in the caption."""
    table = Table(title=title, title_justify="left", caption_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, fit.padding, 0, 0), show_edge=bool(fit.padding))  # notes read as prose, not centred
    for column, width in zip(fit.columns, fit.widths, strict=True):
        table.add_column(column.name, justify=column.justify, no_wrap=True, width=width,  # type: ignore[arg-type]
                         min_width=width)
    wrapped = [[wrap_cell(c, w) if c_.wrap is not None and _lines_width(c) > w else c for c in c_.cells]
               for c_, w in zip(fit.columns, fit.widths, strict=True)]
    for row in zip(*wrapped, strict=True):
        table.add_row(*row)
    caption = [note for note in (*notes, fit.dropped_note) if note]
    table.caption = "\n".join(caption) or None
    return table

