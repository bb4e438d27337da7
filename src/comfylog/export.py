"""The JSON tables made flat for pandas, DuckDB and Spark: ``comfylog export`` and ``Report.to_frames()``.

Rows come from rows.py's ``report_to_dict`` (one definition of every field); this module only
flattens them: ``source`` becomes the log's path, the ``phases`` object becomes ``phases_load`` ...
columns, and any other list or object becomes compact JSON text, so every table has scalar columns
and the same columns whatever the format.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .model import Report
from .read.redact import Redactor
from .rows import report_to_dict

if TYPE_CHECKING:
    import pandas as pd

Row = dict[str, Any]

#: Every exported table: its columns in order and their kinds (a test checks them against report_to_dict).
#: Kinds: str, int, float, bool, and json (a list or object written as JSON text).
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "sources": (("source", "str"), ("lines", "int"), ("timestamp_styles", "json"), ("markdown", "bool"),
                ("newest_first", "bool"), ("first_at", "str"), ("last_at", "str"), ("span_s", "float"),
                ("replaced_bytes", "int"), ("skipped_lines", "int"),
                ("truncated_lines", "int"), ("repaired_mojibake", "int"), ("report_fields", "json"),
                ("dropped_bytes", "int"), ("stopped", "str")),
    "summary": (("source", "str"), ("got_prompt", "int"), ("executed", "int"), ("partial_loads", "int"),
                ("lowvram", "bool"), ("lowvram_module_loads", "int"), ("ws_timeouts", "int"), ("restarts", "int"),
                ("errors", "int"), ("span_s", "float"), ("inputs_in_time_order", "bool"), ("skipped_lines", "int"),
                ("replaced_bytes", "int")),
    "runs": (("source", "str"), ("index", "int"), ("restart", "bool"), ("started_at", "str"), ("ended_at", "str"),
             ("gpu", "str"), ("total_vram_mb", "int"), ("total_ram_mb", "int"), ("vram_state", "str"),
             ("vram_states", "json"), ("comfyui_version", "str"), ("pytorch_version", "str"), ("ready_at", "str"),
             ("startup_s", "float"), ("prestartup_s", "float"), ("import_s", "float"), ("api_ready_at", "str"),
             ("setup", "json"), ("idle_s", "float"), ("outside_s", "float"), ("install_s", "float"),
             ("span_s", "float"), ("first_line", "int"), ("last_line", "int")),
    "prompts": (("source", "str"), ("index", "int"), ("run", "int"), ("got_at", "str"), ("started_at", "str"),
                ("ended_at", "str"), ("status", "str"), ("executed_s", "float"), ("total_s", "float"),
                ("phases_load", "float"), ("phases_inference", "float"), ("phases_wait", "float"),
                ("phases_other", "float"), ("not_timed", "json"), ("estimated", "bool"), ("prompt_id", "str"),
                ("cold", "bool"), ("memory", "json"), ("first_line", "int"), ("last_line", "int")),
    "progress_bars": (("source", "str"), ("prompt", "int"), ("label", "str"), ("kind", "str"), ("total", "float"),
                      ("done", "float"), ("final_rate", "float"), ("rate_unit", "str"), ("elapsed_s", "float"),
                      ("started_at", "str"), ("line", "int")),
    "loads": (("source", "str"), ("prompt", "int"), ("model", "str"), ("kind", "str"), ("usable_mb", "float"),
              ("loaded_mb", "float"), ("staged_mb", "float"), ("line", "int")),
    "errors": (("source", "str"), ("prompt", "int"), ("kind", "str"), ("message", "str"), ("line", "int")),
    "findings": (("source", "str"), ("id", "str"), ("severity", "str"), ("title", "str"), ("confidence", "str"),
                 ("why", "str"), ("advice", "json"), ("cost_s", "float"), ("prompts", "json"), ("figures", "json"),
                 ("evidence", "json")),
}
COLUMNS: dict[str, tuple[str, ...]] = {name: tuple(c for c, _ in columns) for name, columns in SCHEMA.items()}
#: pandas dtypes that keep missing values missing (None is never the text "None", ints stay ints).
PANDAS_DTYPE = {"str": "string", "json": "string", "int": "Int64", "float": "float64", "bool": "boolean"}
TABLES = tuple(COLUMNS)
FORMATS = ("csv", "jsonl", "parquet")
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}


class MissingDependency(Exception):
    """An optional package (pyarrow for Parquet) is not installed; the message says how to get it."""


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


def _flat(row: Row, source_names: Sequence[str]) -> Row:
    """A flat row, ``source`` first (the key every query groups or joins on)."""
    out: Row = {"source": None}
    for key, value in row.items():
        if key == "phases" and isinstance(value, dict):
            out.update({f"phases_{phase}": seconds for phase, seconds in value.items()})
        elif key == "source" and isinstance(value, int) and 0 <= value < len(source_names):
            out["source"] = source_names[value]
        else:
            out[key] = _cell(value)
    return out


def report_tables(report: Report) -> dict[str, list[Row]]:
    """Every table of ``report`` as flat rows whose ``source`` is the log's path (README "Exporting")."""
    data = report_to_dict(report)
    names = [src["name"] for src in data["sources"]]
    tables: dict[str, list[Row]] = {
        "sources": [_flat({"source": src["name"], **{k: v for k, v in src.items() if k != "name"}}, names)
                    for src in data["sources"]],
        "summary": [_flat({"source": " + ".join(names), **data["summary"]}, names)],
    }
    for name in TABLES[2:]:
        tables[name] = [_flat(row, names) for row in data[name]]
    return tables


def log_tables(path: str, redactor: Redactor | None = None) -> dict[str, list[Row]]:
    """Analyse one log on its own and return its flat tables: the pure map step of an export."""
    from .pipeline import analyze_paths

    return report_tables(analyze_paths([path], redactor))


def concat_tables(parts: Iterable[dict[str, list[Row]]]) -> dict[str, list[Row]]:
    """The reduce step: the tables of many logs, one after the other."""
    tables: dict[str, list[Row]] = {name: [] for name in TABLES}
    for part in parts:
        for name in TABLES:
            tables[name] += part.get(name, [])
    return tables


def report_frames(report: Report) -> dict[str, pd.DataFrame]:
    """``Report.to_frames()``: one DataFrame per table, columns as in COLUMNS even when empty."""
    import pandas as pd

    return {
        name: pd.DataFrame(rows, columns=list(COLUMNS[name])).astype({c: PANDAS_DTYPE[k] for c, k in SCHEMA[name]})
        for name, rows in report_tables(report).items()
    }


def write_tables(tables: dict[str, list[Row]], directory: str, fmt: str) -> list[str]:
    """Write one file per table into ``directory`` (created if needed); return the paths written.

    Raises MissingDependency for Parquet without pyarrow, before anything is written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MissingDependency(
                "Parquet needs pyarrow: pip install 'comfylog[parquet]' (or use --format csv / jsonl)"
            ) from None
    os.makedirs(directory, exist_ok=True)
    written = []
    for name in TABLES:
        path = os.path.join(directory, name + SUFFIX[fmt])
        rows = tables.get(name, [])
        if fmt == "csv":
            _write_csv(path, name, rows)
        elif fmt == "jsonl":
            _write_jsonl(path, name, rows)
        else:
            _write_parquet(path, name, rows)
        written.append(path)
    return written


def _write_csv(path: str, name: str, rows: list[Row]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[name], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _write_jsonl(path: str, name: str, rows: list[Row]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({c: row.get(c) for c in COLUMNS[name]}, ensure_ascii=False) + "\n")


def _write_parquet(path: str, name: str, rows: list[Row]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"str": pa.string(), "json": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(column, types[kind]) for column, kind in SCHEMA[name]])
    columns = [pa.array([row.get(column) for row in rows], type=types[kind]) for column, kind in SCHEMA[name]]
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), path)
