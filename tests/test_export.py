"""`comfylog export` and Report.to_frames(): the JSON tables round-trip through pandas with the same numbers."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import comfylog
import comfylog.export
from comfylog.export import COLUMNS, SCHEMA, TABLES, TableFiles, concat_tables, log_tables, report_tables
from comfylog.rows import report_to_dict

from .cli import run_cli
from .conftest import EXAMPLES, ROOT, corpus_or_skip

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
#: Tables that come from report_to_dict row for row (sources and summary are reshaped).
ROW_TABLES = ("runs", "prompts", "progress_bars", "loads", "errors", "findings")


def corpus_logs() -> list[Path]:
    corpus = corpus_or_skip()
    return sorted((corpus / "logs").glob("*.log")) + sorted((corpus / "scenarios").glob("*.log"))


def read_table(directory: Path, table: str, fmt: str) -> pd.DataFrame:
    """Read a table the way a user would; text columns as text so versions like 0.3.10 stay text."""
    path = directory / f"{table}.{fmt}"
    if fmt == "csv":
        text = {column: "string" for column, kind in SCHEMA[table] if kind in ("str", "json")}
        return pd.read_csv(path, dtype=text)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False) if path.stat().st_size else (
            pd.DataFrame(columns=list(COLUMNS[table])))
    return pd.read_parquet(path)


def missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def same(cell: Any, want: Any) -> bool:
    """One exported cell against the JSON value it came from."""
    if missing(want):
        return missing(cell) or cell == ""
    if isinstance(want, (list, dict)):
        return json.loads(cell) == want
    if isinstance(want, bool):
        return bool(cell) is want
    if isinstance(want, (int, float)):
        return math.isclose(float(cell), float(want), rel_tol=1e-12, abs_tol=1e-12)
    return str(cell) == want


def expected_rows(data: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The JSON rows with ``phases`` spread into ``phases_*`` columns (what the export promises)."""
    rows = []
    for row in data[table]:
        row = dict(row)
        row.update({f"phases_{k}": v for k, v in row.pop("phases", {}).items()})
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The corpus exported once per format through the real command line."""
    corpus = corpus_or_skip()
    out = {}
    for fmt in ("csv", "jsonl", "parquet"):
        if fmt == "parquet" and not HAS_PYARROW:
            continue
        directory = tmp_path_factory.mktemp(fmt)
        result = run_cli("export", str(corpus / "logs"), str(corpus / "scenarios"), "-o", str(directory), "-f", fmt,
                         columns=120)
        assert result.returncode == 0, result.stderr
        assert f"wrote 8 {fmt} tables".encode() in result.stderr
        assert f"from {len(corpus_logs())} logs".encode() in result.stderr
        out[fmt] = directory
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_round_trips_through_pandas_with_the_json_numbers(exported: dict[str, Path], fmt: str) -> None:
    if fmt not in exported:
        pytest.skip("pyarrow is not installed (pip install 'comfylog[parquet]')")
    frames = {table: read_table(exported[fmt], table, fmt) for table in TABLES}
    for table in TABLES:
        assert list(frames[table].columns) == list(COLUMNS[table]), (fmt, table)
    checked = 0
    for path in corpus_logs():
        data = report_to_dict(comfylog.analyze(path))
        for table in ROW_TABLES:
            got = frames[table][frames[table]["source"] == str(path)]
            want = expected_rows(data, table)
            assert len(got) == len(want), (fmt, table, path.name)
            for (_, cells), row in zip(got.iterrows(), want, strict=True):
                for column in COLUMNS[table][1:]:
                    assert same(cells[column], row[column]), (fmt, table, path.name, column, cells[column], row[column])
                    checked += 1
        summary = frames["summary"][frames["summary"]["source"] == str(path)]
        assert len(summary) == 1
        for column, value in data["summary"].items():
            assert same(summary.iloc[0][column], value), (fmt, path.name, column)
        source = frames["sources"][frames["sources"]["source"] == str(path)].iloc[0]
        assert same(source["lines"], data["sources"][0]["lines"])
        assert same(source["timestamp_styles"], data["sources"][0]["timestamp_styles"])
    assert checked > 15000  # every cell of every log's tables, not a sample


def test_exported_sums_match_the_fleet(exported: dict[str, Path]) -> None:
    """pandas over the export and the fleet summary add up the same seconds."""
    corpus = corpus_or_skip()
    prompts = read_table(exported["csv"], "prompts", "csv")
    fleet = comfylog.analyze_fleet([corpus / "logs", corpus / "scenarios"])
    timed = prompts[prompts["total_s"].notna()]
    assert len(timed) == fleet.totals.timed_prompts
    for phase in ("load", "inference", "wait", "other"):
        assert timed[f"phases_{phase}"].sum() == pytest.approx(fleet.totals.seconds[phase], abs=0.05)
    per_log = prompts.groupby("source").size()
    assert {row.path: row.prompts for row in fleet.logs if row.prompts} == per_log.to_dict()


def test_table_columns_are_exactly_the_json_fields() -> None:
    """COLUMNS cannot drift from report_to_dict: every corpus row has exactly these keys."""
    seen: dict[str, int] = {table: 0 for table in TABLES}
    for path in corpus_logs():
        for table, rows in report_tables(comfylog.analyze(path)).items():
            for row in rows:
                assert tuple(row) == COLUMNS[table], (path.name, table, tuple(row))
                seen[table] += 1
    assert all(seen.values()), seen


def test_to_frames_has_typed_columns_and_the_same_rows_as_the_export(exported: dict[str, Path]) -> None:
    path = corpus_or_skip() / "scenarios" / "runpod-wan-lowvram-gguf.log"
    frames = comfylog.to_frames(comfylog.analyze(path))
    assert set(frames) == set(TABLES)
    prompts = frames["prompts"]
    assert str(prompts["total_s"].dtype) == "float64" and str(prompts["run"].dtype) == "Int64"
    assert prompts.loc[0, "source"] == str(path) and prompts.loc[0, "executed_s"] == 650.0
    assert prompts.loc[0, ["phases_load", "phases_inference", "phases_wait", "phases_other"]].sum() == pytest.approx(
        prompts.loc[0, "total_s"], abs=0.01)
    assert frames["errors"].empty and list(frames["errors"].columns) == list(COLUMNS["errors"])
    csv_prompts = read_table(exported["csv"], "prompts", "csv")
    row = csv_prompts[csv_prompts["source"] == str(path)].iloc[0]
    assert row["total_s"] == prompts.loc[0, "total_s"] and row["phases_load"] == prompts.loc[0, "phases_load"]
    # an empty log still gives every table, with its columns and dtypes, so concat keeps numbers numeric
    empty = comfylog.to_frames(comfylog.analyze_text("nothing to see\n"))
    joined = pd.concat([empty["progress_bars"], frames["progress_bars"]], ignore_index=True)
    assert str(joined["final_rate"].dtype) == "float64"


def test_export_parquet_without_pyarrow_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails, as where it is not installed
    result = run_cli("export", str(EXAMPLES / "local-baseline.log"), "-o", str(tmp_path / "t"), "-f", "parquet")
    assert result.returncode == 2
    assert result.stderr == b"comfylog: error: Parquet needs pyarrow: pip install 'comfylog[parquet]' " \
                            b"(or use --format csv / jsonl)\n"
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(("setup", "message"), [
    ("output-is-a-file", b"is not a directory"), ("missing-log", b"no such file"), ("bad-format", b"Invalid value"),
])
def test_export_bad_input_is_one_line_and_exit_2(tmp_path: Path, setup: str, message: bytes) -> None:
    out = tmp_path / "out"
    log = str(EXAMPLES / "local-baseline.log")
    args = ["export", log, "-o", str(out)]
    if setup == "output-is-a-file":
        out.write_text("x")
    elif setup == "missing-log":
        args[1] = str(tmp_path / "nope.log")
    else:
        args += ["-f", "xlsx"]
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and b"Traceback" not in result.stderr


def test_export_reads_stdin() -> None:
    out = ROOT / "tests" / "output" / "export-stdin"
    result = run_cli("export", "-", "-o", str(out), "-f", "jsonl", stdin=(EXAMPLES / "local-baseline.log").read_bytes())
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in (out / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row["source"] == "<stdin>" and row["executed_s"] == 90.41


def test_dask_bag_recipe_from_the_readme() -> None:
    """The README's recipe: log_tables is the map step, unchanged, on Dask's local process scheduler."""
    bag = pytest.importorskip("dask.bag", reason="dask is optional: pip install 'dask[bag]' to run this")
    paths = [str(p) for p in corpus_logs()]
    rows = (
        bag.from_sequence(paths, npartitions=2)
        .map(comfylog.log_tables)
        .pluck("prompts")
        .flatten()
        .compute(scheduler="processes", num_workers=2)
    )
    prompts = pd.DataFrame(rows)
    local = pd.DataFrame([row for path in paths for row in log_tables(path)["prompts"]])
    pd.testing.assert_frame_equal(prompts, local)
    assert len(prompts) == sum(len(comfylog.analyze(p).prompts) for p in paths)
    assert prompts.groupby("source")["total_s"].median().notna().sum() >= 25


def prompts_of(file: Any) -> pd.DataFrame:
    """The README's object-storage map step: an fsspec file in, that log's prompts out."""
    with file as handle:
        text = handle.read().decode("utf-8", "replace")
    return comfylog.to_frames(comfylog.analyze_text(text, name=file.path))["prompts"]


def test_dask_over_fsspec_files_recipe_from_the_readme() -> None:
    """The same map step over fsspec files (s3://, gs://, ... in production; file:// here)."""
    bag = pytest.importorskip("dask.bag", reason="dask is optional: pip install 'dask[bag]' to run this")
    fsspec = pytest.importorskip("fsspec")
    corpus = corpus_or_skip()
    files = fsspec.open_files(f"file://{corpus}/scenarios/*.log", compression="infer")
    frames = bag.from_sequence(files, npartitions=2).map(prompts_of).compute(scheduler="processes", num_workers=2)
    prompts = pd.concat(frames, ignore_index=True)
    names = sorted(p.name for p in (corpus / "scenarios").glob("*.log"))
    assert sorted(Path(source).name for source in prompts["source"]) == names
    lowvram = prompts[prompts["source"].str.endswith("runpod-wan-lowvram-gguf.log")].iloc[0]
    alone = comfylog.analyze(corpus / "scenarios" / "runpod-wan-lowvram-gguf.log").prompts[0]
    assert lowvram["total_s"] == alone.total_s and lowvram["phases_load"] == round(alone.phases.load, 3)


def test_api_example_type_checks_and_misuse_does_not() -> None:
    """The example passes mypy --strict; a misuse of the same API fails, so the API is really typed."""
    api = pytest.importorskip("mypy.api")
    output = ROOT / "tests" / "output"
    output.mkdir(exist_ok=True)
    misuse = output / "api_misuse.py"
    misuse.write_text(
        "import comfylog\n"
        "report = comfylog.analyze('x.log')\n"
        "seconds: str = report.prompts[0].phases.load\n"
        "gpu: int = report.runs[0].gpu\n"
        "rows: int = comfylog.analyze_fleet(['x']).totals.prompts\n"
        "frames: list[int] = comfylog.to_frames(report)\n",
        encoding="utf-8",
    )
    example = EXAMPLES / "step_rate_by_gpu.py"
    out, err, status = api.run(["--strict", "--cache-dir", str(output / "mypy-cache"), str(example), str(misuse)])
    assert status == 1, out + err
    assert example.name not in out, out
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert len(errors) == 3 and all("Incompatible types in assignment" in e for e in errors), out
    assert [e.split(":")[1] for e in errors] == ["3", "4", "6"]  # line 5 uses the fleet API correctly


def test_example_plots_step_rate_by_gpu(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    out = tmp_path / "rates.html"
    result = subprocess.run([sys.executable, str(EXAMPLES / "step_rate_by_gpu.py"), str(corpus / "logs"), str(out)],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "Sampling speed by GPU" in html and "NVIDIA GeForce RTX 4090" in html and "Tesla T4" in html
    assert '<script src="https://cdn.plot.ly' not in html and "Plotly.newPlot" in html  # opens offline
    assert b"NVIDIA GeForce GTX 1060 6GB" in result.stdout


def test_tables_are_written_as_their_rows_come_and_other_processes_parts_appended_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export never holds a whole table (the tables of the 1 GB benchmark were 1.5 GB of Python rows):
    each log analysed on another process writes a folder of its own (JSON Lines where the export is Parquet),
    appended in the order of the logs, Parquet a row group at a time."""
    if not HAS_PYARROW:
        pytest.skip("pyarrow is not installed (pip install 'comfylog[parquet]')")
    import pyarrow.parquet as pq

    monkeypatch.setattr(comfylog.export, "PARQUET_BATCH_BYTES", 300)  # about two rows of the loads table
    monkeypatch.setattr(comfylog.export, "PARQUET_ROW_GROUP", 3)
    logs = [str(EXAMPLES / name) for name in ("local-baseline.log", "runpod-oom-restart.log",
                                              "runpod-lowvram-gguf.log")]
    expected = concat_tables(log_tables(log) for log in logs)
    for fmt in ("csv", "jsonl", "parquet"):
        parts = []
        for i, log in enumerate(logs):
            with TableFiles(str(tmp_path / fmt / str(i)), "jsonl" if fmt == "parquet" else fmt) as files:
                files.write_report(comfylog.analyze(log))
            parts.append((str(tmp_path / fmt / str(i)), files.rows))
        with TableFiles(str(tmp_path / fmt / "all"), fmt) as whole:
            for part, rows in parts:
                whole.append(part, rows)
        assert whole.rows == sum(len(rows) for rows in expected.values())
        for table in TABLES:
            want = [{column: row.get(column) for column in COLUMNS[table]} for row in expected[table]]
            got = read_table(tmp_path / fmt / "all", table, fmt)
            assert list(got.columns) == list(COLUMNS[table]) and len(got) == len(want), (fmt, table)
            for (_, cells), row in zip(got.iterrows(), want, strict=True):
                assert all(same(cells[column], row[column]) for column in COLUMNS[table]), (fmt, table)
            if fmt == "parquet":
                assert pq.read_table(tmp_path / fmt / "all" / f"{table}.parquet").to_pylist() == want
                groups = pq.ParquetFile(tmp_path / fmt / "all" / f"{table}.parquet").metadata
                assert all(groups.row_group(i).num_rows <= 3 + 2 - 1 for i in range(groups.num_row_groups))
                assert groups.num_row_groups >= len(want) // 4
    loads = pq.ParquetFile(tmp_path / "parquet" / "all" / "loads.parquet").metadata
    assert len(expected["loads"]) == 9 and loads.num_row_groups == 3  # 4, 4 and 1 rows


def test_parquet_is_written_by_a_process_that_analyses_nothing(tmp_path: Path) -> None:
    """pyarrow's libraries (~50 MB, and the pandas its conversions import, ~45 MB more) never share a process
    with an analysis: the 1 GB benchmark's Parquet export peaked at 313 MB. The tables go through JSON Lines."""
    if not HAS_PYARROW:
        pytest.skip("pyarrow is not installed (pip install 'comfylog[parquet]')")
    out = tmp_path / "tables"
    code = ("import sys\nfrom comfylog.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, "export", str(EXAMPLES / "runpod-lowvram-gguf.log"), "-o",
                           str(out), "-f", "parquet"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "wrote 8 parquet tables" in done.stderr, done.stderr
    assert done.stdout.strip() == "[]"
    frames = {table: read_table(out, table, "parquet") for table in TABLES}
    assert len(frames["loads"]) == 5 and list(frames["findings"]["id"])[:1] == ["lowvram"]
