"""``--format json``: the report's rows (rows.py) written as one JSON object, a row at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TextIO

from ..model import Report
from ..rows import report_tables


def render_json(report: Report) -> str:
    out = io.StringIO()
    write_json(report, out)
    return out.getvalue()


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def write_json(report: Report, out: TextIO) -> None:
    """Write the report as JSON, each top-level key and each table row on a line of its own.

    Rows are made and encoded one at a time (a long log has hundreds of thousands: never all in
    memory at once), by json's C encoder (``indent`` falls back to pure Python, 5x slower).
    """
    data = report_tables(report)
    last = len(data) - 1
    out.write("{\n")
    for i, (key, value) in enumerate(data.items()):
        comma = "," if i < last else ""
        if not isinstance(value, Iterator):
            out.write(f"  {_ENCODE(key)}: {_ENCODE(value)}{comma}\n")
            continue
        first = next(value, None)
        if first is None:
            out.write(f"  {_ENCODE(key)}: []{comma}\n")
            continue
        out.write(f"  {_ENCODE(key)}: [\n    {_ENCODE(first)}")
        for row in value:
            out.write(f",\n    {_ENCODE(row)}")
        out.write(f"\n  ]{comma}\n")
    out.write("}")
