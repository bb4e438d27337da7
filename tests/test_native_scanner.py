"""The native scanner (comfylog._native) against the Python parser, the reference: the same events and
activities, field for field and in the same order, the same reading counters, and the same JSON
report, on every real log, on logs cut short, on hostile bytes and on a generated benchmark-like log.

Also how the scanner is chosen (COMFYLOG_SCANNER) and what ``--version`` says.
"""

from __future__ import annotations

import gzip
import importlib.util
import multiprocessing
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comfylog.events import Activity, Event
from comfylog.parse import Parser
from comfylog.parse.native import NativeParser, ScannerUnavailable, native_module, scanner
from comfylog.pipeline import analyze_paths
from comfylog.read.lines import lines_at, open_input, read_lines
from comfylog.read.redact import Redactor
from comfylog.read.source import UnusableInput
from comfylog.render.json import render_json

from .cli import run_cli
from .conftest import FIXTURES, ROOT
from .test_hostile_input import LOGS

CORPUS = ROOT.parent / "shared" / "corpus"
REAL_LOGS = sorted((CORPUS / "logs").glob("*")) + sorted((CORPUS / "scenarios").glob("*.log")) + sorted(
    (ROOT / "examples").glob("*.log")) + sorted((ROOT / "tests" / "fixtures").glob("*.log")) + sorted(
    p for p in (ROOT / "tests" / "fixtures").glob("runpod-*") if p.suffix != ".log")  # a console copy, a stream


def _cargo_works() -> bool:
    cargo = shutil.which("cargo")
    if cargo is None:
        return False
    return subprocess.run([cargo, "--version"], capture_output=True, check=False).returncode == 0


needs_native = pytest.mark.skipif(native_module() is None, reason="comfylog was installed without the native scanner")


def test_a_machine_with_cargo_gets_the_native_scanner() -> None:
    """make builds with COMFYLOG_BUILD=native where cargo runs: a silent pure-Python install is a bug."""
    if not _cargo_works():
        pytest.skip("no working cargo here: the pure-Python install is expected")
    assert native_module() is not None


def _flat(item: Event | Activity) -> tuple[Any, ...]:
    """An item's values and the types of its fields' (1 == 1.0 == True, but JSON tells them apart: the
    native scanner types numbers itself where Python's int() and float() would read the same)."""
    if isinstance(item, Activity):
        return ("activity", type(item), item.phase, item.first_ts, item.last_ts, item.first_line, item.last_line,
                item.source, item.resolution)
    return ("event", type(item), item.kind, item.line, item.ts, [(k, type(v), v) for k, v in item.fields.items()],
            item.source, item.end_line, item.end_ts)


def _counters(parser: Parser | NativeParser, source: Any) -> dict[str, Any]:
    return {
        "redactions": dict(source.redactions), "name": source.name,
        "styles": list(parser.styles.items()), "skipped": parser.skipped_lines, "first": parser.first_ts,
        "last": parser.last_ts, "nanos": (parser.first_nanos, parser.last_nanos), "lines": source.total_lines,
        "replaced": source.replaced_bytes,
        "truncated": source.truncated_lines, "mojibake": source.repaired_mojibake,
    }


def python_scan(path: Path, redactor: Redactor | None = None) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    source, lines = read_lines(str(path), redactor=redactor)
    parser = Parser(0)
    items = [_flat(it) for raw in lines for it in parser.feed(raw)]
    items += [_flat(it) for it in parser.close()]
    return items, _counters(parser, source)


def native_scan(path: Path, redactor: Redactor | None = None) -> tuple[list[tuple[Any, ...]], dict[str, Any]] | None:
    """The native scanner's items, or None when the input goes to the Python reader (markdown)."""
    log = open_input(str(path), redactor, blocks=True)
    if log.blocks is None:
        assert log.lines is not None
        for _ in log.lines:
            pass
        return None
    parser = NativeParser(0, log.source)
    items = [_flat(it) for block in log.blocks for it in parser.feed(block)]
    items += [_flat(it) for it in parser.close()]
    return items, _counters(parser, log.source)


def report_json(path: Path, which: str, monkeypatch: pytest.MonkeyPatch, redactor: Redactor | None = None) -> str:
    with monkeypatch.context() as m:
        m.setenv("COMFYLOG_SCANNER", which)
        return render_json(analyze_paths([str(path)], redactor))


def assert_same(path: Path, monkeypatch: pytest.MonkeyPatch, redactor: Redactor | None = None) -> None:
    try:
        expected = python_scan(path, redactor)
    except UnusableInput as exc:
        with pytest.raises(UnusableInput) as raised:
            native_scan(path, redactor)
        assert str(raised.value) == str(exc)
        return
    got = native_scan(path, redactor)
    if got is not None:
        assert got[1] == expected[1], path.name
        for i, (g, e) in enumerate(zip(got[0], expected[0], strict=False)):
            assert g == e, f"{path.name}: item {i} differs"
        assert len(got[0]) == len(expected[0]), path.name
    native, python = (report_json(path, which, monkeypatch, redactor) for which in ("native", "python"))
    assert native == python, path.name


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_every_real_log_scans_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(path, monkeypatch)


@needs_native
def test_runpod_python_and_console_forms_scan_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """runpod 1.12's forms (rp_logger.py: a batch job's ``[batchId=...]``, the TIP level) and the console's
    lower-case level tags, which no corpus log holds."""
    log = tmp_path / "runpod.log"
    log.write_text(
        "2026-06-04T13:16:48.452Z [info] --- Starting Serverless Worker |  Version 1.12.0 ---\n"
        '2026-06-04T13:16:49.000Z {"requestId": "sync-6f0a1c52-e1", "message": "[batchId=6f0a1c52] Started.", '
        '"level": "INFO"}\n'
        "2026-06-04T13:16:49.100Z TIP    | Your return body is 21.5 MB which exceeds the 20 MB limit.\n"
        "2026-06-04T13:16:49.200Z [error] Fitness check failed: _cuda_init_check | RuntimeError: CUDA "
        "initialization failed\n"
        '2026-06-04T13:16:50.000Z {"requestId": "sync-6f0a1c52-e1", "message": "[batchId=6f0a1c52] Finished.", '
        '"level": "INFO"}\n', encoding="utf-8")
    assert_same(log, monkeypatch)
    kinds = [k for k, *_ in (it[2:3] for it in python_scan(log)[0] if it[0] == "event")]
    assert [k.value for k in kinds] == ["worker_starting", "job_started", "error_line", "job_finished"]


@needs_native
@pytest.mark.parametrize("name", ["swarmui-zluda-stderr-cp437-bars.log", "desktop-electron-received-log-message.log"])
def test_launcher_logs_scan_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SwarmUI's server log with cp437 bars (patientx/ComfyUI-Zluda #39) and ComfyUI Desktop's electron-log
    (Comfy-Org/ComfyUI #5581): prefix.rs and clean.rs read them as prefixes.py and clean.py do."""
    assert_same(FIXTURES / name, monkeypatch)


@needs_native
def test_a_windows_console_copy_with_arrow_colour_codes_scans_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """`←[32m[INFO]←[0m` (Comfy-Org/ComfyUI #14618): clean.rs drops the arrow colour codes as clean.py does."""
    assert_same(FIXTURES / "windows-console-arrow-sgr.log", monkeypatch)


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
@pytest.mark.parametrize("ips", [False, True], ids=["redactor", "with-ips"])
@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_every_real_log_redacted_scans_the_same(path: Path, ips: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redacted reads (the HTML report's default): lines with a secret's needle are redacted inside the
    native scan, by redact.rs (``Redactor()``, ASCII lines) or by the Python redactor (the rest, and
    every line with IP addresses); the same items, counts by kind and JSON."""
    assert_same(path, monkeypatch, Redactor(ips=ips))


@needs_native
def test_logs_cut_in_the_middle_of_lines_scan_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = [p for p in REAL_LOGS if p.suffix == ".log"][::5]
    for log in logs:
        data = log.read_bytes()
        for cut in (len(data) // 3, len(data) // 2 + 7, len(data) - 3):
            path = tmp_path / f"{log.stem}-{cut}.log"
            path.write_bytes(data[:cut])
            assert_same(path, monkeypatch)


@needs_native
def test_gzip_utf16_crlf_and_bom_inputs_scan_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = ROOT / "examples" / "runpod-lowvram-gguf.log"
    text = source.read_text(encoding="utf-8")
    variants = {
        "log.gz": gzip.compress(text.encode()),
        "utf16.log": text.encode("utf-16"),
        "crlf.log": text.replace("\n", "\r\n").encode(),
        "bom.log": b"\xef\xbb\xbf" + text.encode(),
        "no-final-newline.log": text.rstrip("\n").encode(),
    }
    for name, data in variants.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_same(path, monkeypatch)


@needs_native
def test_several_inputs_in_one_report(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [str(p) for p in sorted((ROOT / "examples").glob("*.log"))]
    outputs = []
    for which in ("native", "python"):
        with monkeypatch.context() as m:
            m.setenv("COMFYLOG_SCANNER", which)
            outputs.append(render_json(analyze_paths(paths)))
    assert outputs[0] == outputs[1]


@needs_native
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(LOGS)
def test_any_bytes_scan_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    path = tmp_path / "fuzz.log"
    path.write_bytes(data)
    assert_same(path, monkeypatch)


SECRETS = [
    "RUNPOD_API_KEY=rpa_ABCDEFGHIJKLMNOPQRSTUV", "HF_TOKEN: hf_abcdefghijklmnopqrstuvwxyz", "/home/alice/ComfyUI",
    "C:\\Users\\Bob\\ComfyUI", "user@example.com", "https://x.io/m?token=abcdef123456", "10.1.2.3", "fe80::1:2",
    "Authorization: Bearer abcdefghij0123456789", "\u212aey=supersecretvalue",
    "https://x.io/m?\u017fig=abcdef123456&\u0130d_token=abcdef123456",  # letters (?i) reads as ASCII ones
]


@needs_native
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(LOGS, st.sampled_from(SECRETS).map(str.encode)), max_size=8).map(b"\n".join), st.booleans())
def test_any_bytes_with_secrets_redacted_scan_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, ips: bool
) -> None:
    path = tmp_path / "fuzz.log"
    path.write_bytes(data)
    assert_same(path, monkeypatch, Redactor(ips=ips))


def _generate_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@needs_native
@pytest.mark.skipif(not (CORPUS / "logs").is_dir(), reason="no corpus")
def test_a_generated_benchmark_log_scans_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/generate.py's mix (DEBUG floods, bars of hundreds of CR-joined states), 3 MB: several
    blocks, so lines are scanned on several threads and bars and tracebacks cross block edges."""
    generate = _generate_module()
    path = tmp_path / "bench.log"
    generate.generate(3_000_000, path, seed=7)
    assert_same(path, monkeypatch)
    assert_same(path, monkeypatch, Redactor())  # redact.rs on the scan threads, block after block


# ---- choosing the scanner ------------------------------------------------------------------------

def test_python_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYLOG_SCANNER", "python")
    assert scanner() == "python"
    monkeypatch.setenv("COMFYLOG_SCANNER", "fortran")
    with pytest.raises(ScannerUnavailable, match="native or python"):
        scanner()


@needs_native
def test_native_is_the_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMFYLOG_SCANNER", raising=False)
    assert scanner() == "native"
    result = run_cli("--version", text=True)
    assert result.returncode == 0
    assert "scanner native" in str(result.stdout)


def test_version_names_the_scanner(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli("--version", env={"COMFYLOG_SCANNER": "python"}, text=True)
    assert result.returncode == 0
    assert str(result.stdout).startswith("comfylog 0.") and "scanner python" in str(result.stdout)


def test_insisting_on_a_missing_native_scanner_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a pure-Python install says to COMFYLOG_SCANNER=native (the module made to look missing)."""
    import comfylog.engines as engines  # where the choice of scanner is made (parse/native.py re-exports it)

    monkeypatch.setattr(engines, "_loaded", {"module": None})
    monkeypatch.setattr(engines, "_loaded_error", {"error": "No module named 'comfylog._native'"})
    log = ROOT / "examples" / "runpod-lowvram-gguf.log"
    result = run_cli("analyze", str(log), env={"COMFYLOG_SCANNER": "native"}, text=True)
    assert result.returncode == 2
    lines = str(result.stderr).strip().splitlines()
    assert len(lines) == 1 and "COMFYLOG_SCANNER=native" in lines[0] and "Rust toolchain" in lines[0]
    assert run_cli("analyze", str(log), env={"COMFYLOG_SCANNER": "python"}).returncode == 0


def _blocks(data: bytes) -> Iterator[bytes]:
    """A whole log cut into blocks of one line each (streams.py cuts at 1 MB)."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        yield data[start:end]
        start = end


@needs_native
def test_block_edges_do_not_matter(tmp_path: Path) -> None:
    """One line per block gives what 1 MB blocks give: no state is lost at a block's edge."""
    path = ROOT / "examples" / "runpod-lowvram-gguf.log"
    whole = native_scan(path)
    assert whole is not None
    log = open_input(str(path), blocks=True)
    assert log.blocks is not None
    data = b"".join(log.blocks)
    parser = NativeParser(0, log.source)
    items = [_flat(it) for block in _blocks(data) for it in parser.feed(block)]
    items += [_flat(it) for it in parser.close()]
    assert items == whole[0]


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
def test_a_serial_scan_is_the_threaded_scan() -> None:
    """A fleet's worker scans on its one thread (scan_serially): the pieces of a block, and the blocks the
    threaded scanner hands to a thread of their own (over 256 KB), give the same report as on the threads."""
    module = native_module()
    assert module is not None
    long_logs = [p for p in REAL_LOGS if p.suffix == ".log" and p.stat().st_size > 256 << 10]
    assert long_logs  # the corpus' 1,330-prompt log, among others
    for path in long_logs:
        threaded = render_json(analyze_paths([str(path)]))
        module.scan_serially(True)
        try:
            serial = render_json(analyze_paths([str(path)]))
        finally:
            module.scan_serially(False)
        assert serial == threaded, path.name


@needs_native
@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
def test_evidence_lines_read_back_the_same() -> None:
    """lines_at with the native picker (no decoding of the lines between) gives the Python reader's text,
    redacted as it redacts (the picked lines, after cleaning)."""
    module = native_module()
    assert module is not None
    redacted = 0
    for path in REAL_LOGS:
        total = sum(1 for _ in read_lines(str(path))[1])
        numbers = {1, 2, total // 3, total // 2, max(total - 1, 1), total, total + 5}
        expected = lines_at(str(path), numbers)
        assert lines_at(str(path), numbers, picker=module.pick_lines) == expected, path.name
        # every line with a user's home folder, an e-mail address or a key in it, and its neighbours
        secret = {raw.number for raw in read_lines(str(path))[1]
                  if Redactor(ips=True).redact(raw.text, Counter()) != raw.text}
        numbers |= secret | {n + 1 for n in secret}
        expected = lines_at(str(path), numbers, Redactor(ips=True))
        assert lines_at(str(path), numbers, Redactor(ips=True), picker=module.pick_lines) == expected, path.name
        redacted += sum(1 for n, text in expected.items() if text != lines_at(str(path), {n})[n])
    assert redacted > 50  # the redaction was tried on lines that have something to redact


@needs_native
def test_a_table_rust_cannot_run_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row whose regex leaves the common subset (a look-behind) fails as UnusableInput, naming the row."""
    import comfylog.parse.native as native

    bad = native.TABLE_TEXT.replace("regex = '^== CUDA ==\\s*$'", "regex = '(?<=x)== CUDA ==\\s*$'")
    assert bad != native.TABLE_TEXT
    monkeypatch.setattr(native, "TABLE_TEXT", bad)
    with pytest.raises(UnusableInput, match="cuda_banner"):
        NativeParser(0)


@needs_native
def test_the_scanner_takes_no_item_builder_of_another_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events get their kind and fields from the builder's row of the same number: a builder made for
    another table (a row fewer, rows in another order) is refused before anything is scanned."""
    import comfylog.parse.native as native

    module = native_module()
    for rows in (native.PATTERNS[1:], native.PATTERNS[::-1]):
        monkeypatch.setattr(native, "PATTERNS", rows)
        builder = native._item_builder.__wrapped__(module)
        with pytest.raises(ValueError, match="item builder"):
            module.Scanner(native.TABLE_TEXT, builder, 0)


@needs_native
def test_a_failed_scan_is_one_error_and_the_scanner_takes_no_more() -> None:
    """A block whose scan fails (here Python's redactor raising) is one RuntimeError, whether the block
    was scanned in feed itself (a small block) or on a thread of its own (a big one: the error comes with
    the next call); the scanner then refuses more input rather than scanning on from a lost state."""
    import comfylog.parse.native as native

    module = native_module()
    assert module is not None
    small = (ROOT / "examples" / "runpod-lowvram-gguf.log").read_bytes()
    big = small * (300_000 // len(small) + 1)  # past the scanner's 256 KiB inline blocks

    def refuse(text: str) -> str:
        raise OSError("the redactor is gone")

    for block in (small, big):
        redaction = (["got prompt"], [], refuse, False)  # False: every line through `refuse`, none in Rust
        scanner = module.Scanner(native.TABLE_TEXT, native._item_builder(module), 0, redaction)
        with pytest.raises(RuntimeError, match="^native scanner error: redaction failed: .*the redactor is gone"):
            scanner.feed(block)  # a small block fails here
            assert block is big  # a big one is scanned on its thread: its failure comes with the next call
            scanner.close()
        with pytest.raises(RuntimeError, match="failed earlier and takes no more input"):
            scanner.feed(b"got prompt\n")
        with pytest.raises(RuntimeError, match="failed earlier and takes no more input"):
            scanner.close()


def _scan_in_child(path: str, results: Any) -> None:
    results.put(native_scan(Path(path)) is not None)


@needs_native
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_process_forked_after_a_scan_can_scan(tmp_path: Path) -> None:
    """A fleet forks its workers after this process has scanned: their scans must not wait forever
    on threads that the fork did not copy (rayon's global pool did exactly that)."""
    path = tmp_path / "big.log"
    path.write_bytes((ROOT / "examples" / "runpod-lowvram-gguf.log").read_bytes() * 60)  # several tasks a block
    assert native_scan(path) is not None
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_scan_in_child, args=(str(path), results))
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked process hung in its scan")
    assert child.exitcode == 0 and results.get(timeout=5) is True


@needs_native
def test_the_native_module_reads_toml_as_tomllib_does() -> None:
    """table.py reads messages.toml with the native module where it is installed (tomldata.rs: tomllib and its
    import were ~25 ms of every start-up): the same data, of the same types, every table's keys in the same
    order (a row's fields are made in their order), for messages.toml and for the other forms TOML has."""
    import json

    from comfylog.parse.table import TABLE_TEXT, table_data

    module = native_module()
    assert module is not None
    forms = ('top = "first"\nints = [0x1F, 0o17, 0b101, -42, 12_345, +7, 99999999999999999999999]\n'
             "floats = [1.5e3, -0.0, 3_141.5, inf, -inf]\nflags = [true, false]\n"
             'nested = [[1, "x"], [], {y = 1, x = {b = 2, a = 3}}]\n'
             "[t]\nz = 'q'\ny.k = 3\na = \"\\u00e9\\n\"\n[[rows]]\nb = 1\n[[rows]]\na = 2\n")
    for text in (TABLE_TEXT, forms):
        expected = table_data(text)  # a text of its own: read by tomllib
        got = module.table_data(text)
        assert got == expected
        assert json.dumps(got) == json.dumps(expected)  # types (1, 1.0, true) and key order at every level
    assert json.dumps(table_data()) == json.dumps(table_data(TABLE_TEXT))  # messages.toml, read natively
    with pytest.raises(ValueError):  # a date: tomllib's to read (table.py falls back to it)
        module.table_data("when = 2025-01-01\n")
