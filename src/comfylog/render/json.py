"""``--format json``: the report's rows (rows.py) written as one JSON object, a row at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from itertools import islice
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, TextIO

from ..model import Report
from ..rows import ROW_OF, report_tables
from ..spool import Spool


def render_json(report: Report) -> str:
    out = io.StringIO()
    write_json(report, out)
    return out.getvalue()


_ENCODER = json.JSONEncoder(ensure_ascii=False)
_ENCODE = _ENCODER.encode
#: Rows written to the output at once.
ROWS_PER_WRITE = 1024
#: Between two rows of a table (native/src/segment/jsonrows.rs writes its rows joined by the same).
ROW_SEPARATOR = ",\n    "


def _row_encoder() -> Callable[[Any], str]:
    """``_ENCODE`` for table rows, its C encoder made once rather than once a row (a long log has
    hundreds of thousands of rows; the same text)."""
    make = c_make_encoder
    if make is None:
        return _ENCODE
    iterencode = make({}, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator,
                      _ENCODER.item_separator, _ENCODER.sort_keys, _ENCODER.skipkeys, _ENCODER.allow_nan)
    join = "".join
    return lambda row: join(iterencode(row, 0))


def write_json(report: Report, out: TextIO) -> None:
    """Write the report as JSON, each top-level key and each table row on a line of its own.

    Rows are made and encoded one at a time (a long log has hundreds of thousands: never all in
    memory at once), by json's C encoder (``indent`` falls back to pure Python, 5x slower), and
    written ROWS_PER_WRITE at a time. A block of a table whose rows the Rust segmenter wrote as text
    beside it (Spool.json_rows) is copied as it is.
    """
    data = report_tables(report)
    encode_row = _row_encoder()
    last = len(data) - 1
    out.write("{\n")
    for i, (key, value) in enumerate(data.items()):
        comma = "," if i < last else ""
        if not isinstance(value, Iterator):
            out.write(f"  {_ENCODE(key)}: {_ENCODE(value)}{comma}\n")
            continue
        table = getattr(report, key) if key in ROW_OF else None
        if isinstance(table, Spool) and table.has_json_rows:
            _write_text_rows(out, key, table, ROW_OF[key], encode_row, comma)
            continue
        first = next(value, None)
        if first is None:
            out.write(f"  {_ENCODE(key)}: []{comma}\n")
            continue
        out.write(f"  {_ENCODE(key)}: [\n    {encode_row(first)}")
        rows = map(encode_row, value)
        while chunk := list(islice(rows, ROWS_PER_WRITE)):
            out.write(ROW_SEPARATOR + ROW_SEPARATOR.join(chunk))
        out.write(f"\n  ]{comma}\n")
    out.write("}")


def _write_text_rows(out: TextIO, key: str, table: Spool[Any], row: Callable[[Any], dict[str, Any]],
                     encode_row: Callable[[Any], str], comma: str) -> None:
    """A table (not empty) whose blocks came with their rows' text: that text, the other records'
    rows encoded here, in order."""
    out.write(f"  {_ENCODE(key)}: [\n    ")
    separator = ""
    for chunk in table.json_rows():
        if not chunk:
            continue
        out.write(separator)
        if isinstance(chunk, str):
            out.write(chunk)
        else:
            out.write(ROW_SEPARATOR.join(map(encode_row, map(row, chunk))))
        separator = ROW_SEPARATOR
    out.write(f"\n  ]{comma}\n")
