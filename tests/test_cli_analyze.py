"""`comfylog analyze` through the real command line: output, JSON, stdin, exit codes, goldens."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from comfylog.api import analyze
from comfylog.render import terminal
from comfylog.render.terminal import ERROR_MESSAGE_CHARS, render_terminal

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, FIXTURES, ROOT, corpus_or_skip


def terminal_text(path: Path) -> str:
    """The report as plain text, with the log named relative to the project (goldens are portable)."""
    console = Console(width=100, color_system=None, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        report = analyze(os.path.relpath(path, ROOT))
    finally:
        os.chdir(cwd)
    render_terminal(report, console)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


@pytest.mark.parametrize("name", ["runpod-lowvram-gguf.log", "runpod-oom-restart.log", "local-baseline.log"])
def test_terminal_report_golden(name: str, golden: Callable[[str, str], None]) -> None:
    """The rendered report is pinned (pytest --update-goldens after a deliberate change)."""
    golden(f"analyze-{name}.txt", terminal_text(EXAMPLES / name))


def test_the_report_is_printed_a_run_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A long log has thousands of runs: each one's machine table and timeline row is made as it is printed
    and let go, never all held at once (the terminal report of the 1 GB benchmark peaked at 254 MB)."""
    report = analyze([str(EXAMPLES / name) for name in ("local-baseline.log", "runpod-lowvram-gguf.log",
                                                          "runpod-oom-restart.log")])
    assert len(report.runs) == 4
    happened: list[str] = []
    for name in ("_machine", "_run_timeline"):
        made = getattr(terminal, name)

        def recording(*args: Any, made: Callable[..., Any] = made, name: str = name) -> Any:
            part = made(*args)
            if part is not None:
                happened.append(name)
            return part

        monkeypatch.setattr(terminal, name, recording)

    class Output(io.StringIO):
        def write(self, text: str) -> int:
            happened.append("printed")
            return super().write(text)

    render_terminal(report, Console(width=100, color_system=None, file=Output()))
    for name, parts in (("_machine", 4), ("_run_timeline", 3)):
        at = [i for i, what in enumerate(happened) if what == name]
        assert len(at) == parts, happened
        assert all("printed" in happened[a:b] for a, b in zip(at, at[1:], strict=False)), (name, happened)


def test_the_errors_table_cuts_a_long_message_with_an_ellipsis() -> None:
    # worker-comfyui's `ComfyUI HTTP unreachable` with urllib3's whole exception: the table shows its first
    # characters and `…`, not a message that stops mid-word as if it ended there.
    log = FIXTURES / "runpod-killed-for-ram.log"
    message = analyze(log).errors[0].message
    assert len(message) > ERROR_MESSAGE_CHARS
    table = " ".join(terminal_text(log).split("\nErrors\n", 1)[1].split())  # wrapped lines joined again
    assert " ".join(message[:ERROR_MESSAGE_CHARS - 1].split()) + "… " in table
    assert " ".join(message[:ERROR_MESSAGE_CHARS].split()) not in table


def test_analyze_prints_a_readable_report_for_every_corpus_log() -> None:
    corpus_or_skip()
    logs = sorted((CORPUS / "logs").glob("*.log"))
    for log in logs:
        text = terminal_text(log)
        assert "Traceback" not in text.split("Errors")[0], log.name
        report = analyze(log)
        if report.runs and report.runs[0].gpu:
            assert report.runs[0].gpu in text, log.name
        assert f"{report.summary.got_prompt} prompt" in text


def test_cli_text_and_json(tmp_path: Path) -> None:
    log = str(EXAMPLES / "runpod-lowvram-gguf.log")
    text = run_cli("analyze", log)
    assert text.returncode == 0, text.stderr
    assert b"NVIDIA GeForce RTX 4090" in text.stdout and b"Where the time went" in text.stdout
    out = tmp_path / "r.json"
    result = run_cli("analyze", log, "--format", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema_version"] == 2
    assert data["summary"]["got_prompt"] == 1 and data["prompts"][0]["executed_s"] == 650.0


def test_cli_reads_stdin_when_piped_or_dash() -> None:
    log = (EXAMPLES / "local-baseline.log").read_bytes()
    for args in (("analyze", "-", "--format", "json"), ("analyze", "--format", "json")):
        result = run_cli(*args, stdin=log)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["prompts"][0]["executed_s"] == 90.41


@pytest.mark.parametrize(
    ("setup", "message"),
    [("missing", b"no such file"), ("directory", b"is a directory"), ("binary", b"binary file")],
)
def test_cli_unusable_input_is_one_line_and_exit_2(tmp_path: Path, setup: str, message: bytes) -> None:
    target = tmp_path / "input"
    if setup == "directory":
        target.mkdir()
    elif setup == "binary":
        target.write_bytes(bytes(range(256)) * 64)
    result = run_cli("analyze", str(target))
    assert result.returncode == 2
    assert message in result.stderr
    assert b"Traceback" not in result.stderr and result.stderr.count(b"\n") == 1


def test_cli_help_teaches() -> None:
    result = run_cli("analyze", "--help")
    assert result.returncode == 0
    assert b"--format" in result.stdout and b"stdin" in result.stdout


def prompt_table(text: str) -> list[str]:
    """The lines of the terminal report's prompt table: from its title to the blank line after it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Prompts")
    end = next(i for i in range(start + 2, len(lines)) if not lines[i].strip())
    return lines[start:end]


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize(("log", "whole", "narrowed"), [
    ("logs/030-marsh000596-gtx1050ti-animatediff-hms-6h.log", {80: ["6:42:57", "6:38:59"], 60: ["6h43m", "6h39m"]},
     {60}),
    ("logs/036-krohaard-rtx5070ti-laptop-unloaded-partially.log", {80: ["2:15", "30/30 (+2)"],
                                                                   60: ["2:15", "30/30 (+2)"]}, {60}),
    # no RunPod worker, so no wait column: 60 columns hold the rest
    ("scenarios/runpod-wan-oom-restart.log", {80: ["42.1s", "15.3s"], 60: ["42.1s", "15.3s"]}, set()),
])
def test_prompt_table_on_a_narrow_terminal_cuts_no_number(
    log: str, whole: dict[int, list[str]], narrowed: set[int], columns: int,
) -> None:
    """030's six-hour prompt at 80 columns came out as ``6:42:…``: the table closes up, shortens hours
    to the minute, then leaves out whole columns (named under it), but never cuts a cell."""
    corpus_or_skip()
    text = str(run_cli("analyze", str(CORPUS / log), text=True, columns=columns).stdout)
    table = prompt_table(text)
    assert all(len(line.rstrip()) <= columns for line in table)
    assert not any("…" in line for line in table), "\n".join(table)
    rule = next(i for i, line in enumerate(table) if "───" in line)
    for number in whole[columns]:
        assert number in table[rule + 1], (number, table[rule + 1])
    if columns in narrowed:
        assert "not shown at this width: received" in " ".join(" ".join(table).split())
    else:
        assert "received" in table[rule - 1]


def test_an_untimed_timeline_keeps_short_prompts_and_does_not_claim_they_were_back_to_back() -> None:
    # 038: 1330 minute-stamped prompts of 4-11 s each, minutes apart: each alone rounds to no cell of the 50,
    # so the line was empty; and "back to back" said they followed each other, which the stamps deny.
    corpus = corpus_or_skip()
    log = next((corpus / "logs").glob("038-*.log"))
    text = run_cli("analyze", str(log), columns=120).stdout.decode()
    line = next(line for line in text.splitlines() if line.startswith("run 1 "))
    assert line.count("?") == 50  # every cell drawn: the prompts' seconds are all "not timed"
    assert "end to end by printed duration, gaps left out" in line and "back to back" not in text


@pytest.mark.parametrize("width", [120, 72])
def test_plain_lines_are_what_rich_draws(width: int) -> None:
    # On a console without colour (-o FILE, a pipe) the runs' machine tables and timeline rows are written as
    # their plain lines, not laid out by rich: the report is character for character what rich draws, on
    # the examples, the scenarios and the corpus as one report (thousands of runs; at 72 columns some tables
    # wrap and go through rich).
    corpus = corpus_or_skip()
    logs = [*sorted(EXAMPLES.glob("*.log")), *sorted((corpus / "scenarios").glob("*.log")),
            *sorted((corpus / "logs").glob("*.log"))]
    report = analyze([str(path) for path in logs])
    drawn: list[str] = []
    for plain in (True, False):
        out = io.StringIO()
        console = Console(width=width, color_system=None, file=out)
        if plain:
            render_terminal(report, console)
        else:
            for part in terminal.report_parts(report, width=width):
                for piece in part:
                    console.print(piece)
                console.print()
        drawn.append(out.getvalue())
    assert drawn[0] == drawn[1]
    pieces = [piece for part in terminal.report_parts(report, width=width, plain=True) for piece in part]
    plain = [piece for piece in pieces if isinstance(piece, terminal.Plain)]
    assert any(len(piece.lines) > 1 for piece in plain)  # machine tables
    assert any(len(piece.lines) == 1 for piece in plain) == (width == 120)  # timeline rows (too wide for 72)
    assert any(isinstance(piece, Table) for piece in pieces[1:len(report.runs) + 1])  # titles too long: rich's


def test_custom_nodes_that_failed_are_not_counted_as_imported() -> None:
    """025 lists 48 custom nodes in its import times, 17 of them IMPORT FAILED: 31 imported, in every report."""
    from comfylog.api import analyze
    from comfylog.render.html import render_html
    from comfylog.render.markdown import render_markdown
    from comfylog.render.terminal import render_terminal

    from .conftest import corpus_log

    report = analyze(corpus_log("025"))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_terminal(report, console, 40)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "31 imported, slowest 0.4s (ComfyUI-Easy-Use), 17 failed" in text
    assert "31 imported, slowest" in render_markdown(report, 40) and ", 17 failed" in render_markdown(report, 40)
    assert "31 imported, slowest 0.4s (ComfyUI-Easy-Use), 17 failed" in render_html(report)
