"""The JSON tables made flat for pandas, DuckDB and Spark: ``comfylog export`` and ``Report.to_frames()``.

Rows come from rows.py's ``report_tables`` (one definition of every field); this module only
flattens them, a row at a time as they are written (never a whole table in memory): ``source``
becomes the log's path, the ``phases`` object becomes ``phases_load`` ... columns, and any other
list or object becomes compact JSON text, so every table has scalar columns and the same columns
whatever the format.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from .fleet import DEFAULT_WORKERS, map_logs
from .model import Report
from .read.redact import Redactor
from .rows import report_tables as json_tables

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
                ("ended_at", "str"), ("status", "str"), ("received", "bool"), ("executed_s", "float"),
                ("total_s", "float"),
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


def flat_tables(report: Report) -> dict[str, Iterator[Row]]:
    """Every table of ``report`` as flat rows whose ``source`` is the log's path (README "Exporting"),
    each row made as it is asked for: a long log's tables are written a row at a time, never held."""
    data = json_tables(report)
    sources = list(data["sources"])
    names = [src["name"] for src in sources]
    tables: dict[str, Iterator[Row]] = {
        "sources": iter([_flat({"source": src["name"], **{k: v for k, v in src.items() if k != "name"}}, names)
                         for src in sources]),
        "summary": iter([_flat({"source": " + ".join(names), **data["summary"]}, names)]),
    }
    for name in TABLES[2:]:
        tables[name] = (_flat(row, names) for row in data[name])
    return tables


def report_tables(report: Report) -> dict[str, list[Row]]:
    """Every table of ``report`` as lists of flat rows (flat_tables), for pandas."""
    return {name: list(rows) for name, rows in flat_tables(report).items()}


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


def export_logs(
    paths: Sequence[str], directory: str, fmt: str, redactor: Redactor | None = None, workers: int = DEFAULT_WORKERS,
    progress: Callable[[str, float, float | None], None] | None = None,
) -> tuple[list[str], int]:
    """Analyse each log on its own and write the tables of all, log after log, into ``directory`` (one
    file per table); the paths written and the rows. Raises MissingDependency for Parquet without pyarrow,
    before anything is written.

    The rows are written as they are made, never all held: the tables of one 1 GB log were 1.5 GB of
    Python rows. Logs analysed on other processes (fleet.map_logs) write their tables to a temporary
    folder of their own, which is appended here, in the order of ``paths``, and removed.

    Parquet is written from the tables as JSON Lines, in a process of its own (to_parquet): pyarrow's
    libraries (~50 MB, and pandas, which its conversion of Python values imports, ~45 MB more) never share
    a process with an analysis (a 1 GB log's export peaked at 313 MB).
    """
    from .pipeline import analyze_paths

    check_format(fmt)
    if fmt == "parquet":
        os.makedirs(directory, exist_ok=True)  # a folder that cannot be made fails now, not after the analysis
        with tempfile.TemporaryDirectory(prefix="comfylog-export-") as staged:
            _, rows = export_logs(paths, staged, "jsonl", redactor, workers, progress)
            return to_parquet(staged, directory), rows
    with TableFiles(directory, fmt) as files:
        if workers <= 1 or len(paths) <= 1 or "-" in paths:  # map_logs would run them here
            for done, path in enumerate(paths, 1):
                files.write_report(analyze_paths([path], redactor))
                if progress is not None:
                    progress(f"analysing {len(paths)} logs", done, len(paths))
            return files.paths, files.rows
        with tempfile.TemporaryDirectory(prefix="comfylog-export-") as parts:
            for part, rows in map_logs(partial(_export_part, parts=parts, fmt=fmt, redactor=redactor), paths,
                                       workers, progress):
                files.append(part, rows)
                shutil.rmtree(part)
        return files.paths, files.rows


def to_parquet(tables: str, directory: str) -> list[str]:
    """The JSON Lines tables in ``tables`` (TableFiles) as Parquet tables in ``directory``, written by a new
    process (spawned: a forked one would start with this one's memory); the paths written."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_parquet_of_jsonl, tables, directory).result()


def _parquet_of_jsonl(tables: str, directory: str) -> list[str]:
    with TableFiles(directory, "parquet") as files:
        files.append(tables, 0)
    return files.paths


def _export_part(path: str, parts: str, fmt: str, redactor: Redactor | None) -> tuple[str, int]:
    """The map step of export_logs on another process: ``path``'s tables in a new folder under ``parts``,
    and their rows."""
    from .pipeline import analyze_paths

    folder = tempfile.mkdtemp(dir=parts)
    with TableFiles(folder, fmt) as files:
        files.write_report(analyze_paths([path], redactor))
    return folder, files.rows


def write_tables(tables: dict[str, list[Row]], directory: str, fmt: str) -> list[str]:
    """Write one file per table into ``directory`` (created if needed); return the paths written.

    Raises MissingDependency for Parquet without pyarrow, before anything is written.
    """
    with TableFiles(directory, fmt) as files:
        for name in TABLES:
            files.write(name, tables.get(name, []))
    return files.paths


def check_format(fmt: str) -> None:
    """Raise ValueError for an unknown format, MissingDependency for Parquet without pyarrow (looked for,
    not imported: its libraries weigh ~50 MB)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and not _installed("pyarrow"):
        raise MissingDependency("Parquet needs pyarrow: pip install 'comfylog[parquet]' (or use --format csv / jsonl)")


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: an import that fails
    return importlib.util.find_spec(module) is not None


class TableFiles:
    """One file per table in ``directory`` (created if needed), rows appended as they come; closed, every
    file is complete (a table with no rows has its header or schema). Raises MissingDependency for Parquet
    without pyarrow, ValueError for an unknown format, before anything is written."""

    def __init__(self, directory: str, fmt: str) -> None:
        check_format(fmt)
        os.makedirs(directory, exist_ok=True)
        self.fmt = fmt
        self.paths = [os.path.join(directory, name + SUFFIX[fmt]) for name in TABLES]
        #: Rows written so far, all tables.
        self.rows = 0
        sinks: dict[str, Callable[[str, str], _Table]] = {"csv": _CsvTable, "jsonl": _JsonlTable,
                                                          "parquet": _ParquetTable}
        sink = sinks[fmt]
        self._tables: dict[str, _Table] = {}
        try:
            for name, path in zip(TABLES, self.paths, strict=True):
                self._tables[name] = sink(path, name)
        except BaseException:
            self.close()
            raise

    def write(self, name: str, rows: Iterable[Row]) -> None:
        self.rows += self._tables[name].write(rows)

    def write_report(self, report: Report) -> None:
        for name, rows in flat_tables(report).items():
            self.write(name, rows)

    def append(self, directory: str, rows: int) -> None:
        """Append the tables (``rows`` in all) another TableFiles wrote into ``directory``: of this format, or
        JSON Lines for Parquet (export_logs)."""
        suffix = SUFFIX["jsonl" if self.fmt == "parquet" else self.fmt]
        for name, table in self._tables.items():
            table.append(os.path.join(directory, name + suffix))
        self.rows += rows

    def close(self) -> None:
        for table in self._tables.values():
            table.close()
        self._tables = {}

    def __enter__(self) -> TableFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Table(Protocol):
    def write(self, rows: Iterable[Row]) -> int: ...
    def append(self, path: str) -> None: ...
    def close(self) -> None: ...


class _CsvTable:
    """A CSV file with its header: rows written as they come; another's rows appended without its header."""

    def __init__(self, path: str, name: str) -> None:
        self._file = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by close())
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS[name], extrasaction="ignore")
        self._writer.writeheader()

    def write(self, rows: Iterable[Row]) -> int:
        counted = _Counted(rows)
        self._writer.writerows(counted)
        return counted.count

    def append(self, path: str) -> None:
        with open(path, encoding="utf-8", newline="") as part:
            part.readline()  # the header: this file has its own
            shutil.copyfileobj(part, self._file)

    def close(self) -> None:
        self._file.close()


class _JsonlTable:
    """A JSON Lines file: a row a line, the columns in COLUMNS order."""

    def __init__(self, path: str, name: str) -> None:
        self._file = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self._columns = COLUMNS[name]

    def write(self, rows: Iterable[Row]) -> int:
        count = 0
        for row in rows:
            self._file.write(_json_line(row, self._columns))
            count += 1
        return count

    def append(self, path: str) -> None:
        with open(path, encoding="utf-8") as part:
            shutil.copyfileobj(part, self._file)

    def close(self) -> None:
        self._file.close()


def _json_line(row: Row, columns: Sequence[str]) -> str:
    """A row as a JSON Lines line, its columns in ``columns`` order."""
    return json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n"


#: Bytes of JSON Lines turned into Arrow columns at once, and rows per row group written (a table of at most
#: this many rows is one row group, as pyarrow writes a whole table): what writing costs besides pyarrow's
#: own 63 MB grows with the row group, 52 MB at 16384 rows, 66 MB at 65536 (the 100 MB benchmark's tables).
PARQUET_BATCH_BYTES = 1 << 20
PARQUET_ROW_GROUP = 16384


class _ParquetTable:
    """A Parquet file written a row group (PARQUET_ROW_GROUP rows) at a time, the rows of each write or append
    in row groups of their own. Rows become Arrow columns through pyarrow's JSON reader, told the table's
    schema: its conversion of Python values imports pandas (~45 MB) to look for pandas' own."""

    def __init__(self, path: str, name: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"str": pa.string(), "json": pa.string(), "int": pa.int64(), "float": pa.float64(),
                 "bool": pa.bool_()}
        self._columns = COLUMNS[name]
        self._schema = pa.schema([(column, types[kind]) for column, kind in SCHEMA[name]])
        self._writer = pq.ParquetWriter(path, self._schema)
        self._pending: list[Any] = []  # Arrow tables not yet written
        self._pending_rows = 0
        self._written = False

    def write(self, rows: Iterable[Row]) -> int:
        count = 0
        lines: list[str] = []
        size = 0
        for row in rows:
            line = _json_line(row, self._columns)
            lines.append(line)
            size += len(line)
            count += 1
            if size >= PARQUET_BATCH_BYTES:
                self._add("".join(lines).encode("utf-8"))
                lines, size = [], 0
        if lines:
            self._add("".join(lines).encode("utf-8"))
        self._flush()
        return count

    def append(self, path: str) -> None:
        """Append the rows of a JSON Lines table of the same columns (_JsonlTable)."""
        with open(path, "rb") as part:
            while lines := part.readlines(PARQUET_BATCH_BYTES):
                self._add(b"".join(lines))
        self._flush()

    def _add(self, data: bytes) -> None:
        import pyarrow.json as pj

        # one block, however long a line (a finding's prompts); no threads: each holds buffers of its own
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False,
                                                                           block_size=len(data) + 1),
                             parse_options=pj.ParseOptions(explicit_schema=self._schema,
                                                           unexpected_field_behavior="error"))
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._pending_rows or not self._written:  # an empty table is written once, as pyarrow writes one
            table = pa.concat_tables(self._pending) if self._pending else self._schema.empty_table()
            self._writer.write_table(table, row_group_size=max(1, table.num_rows))
            self._written = True
        self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        if not self._written:
            self._flush()
        self._writer.close()


class _Counted:
    """``rows``, counted as they are read."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self._rows:
            self.count += 1
            yield row
