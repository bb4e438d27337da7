"""`comfylog analyze` through the real command line: output, JSON, stdin, exit codes, goldens."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from comfylog.api import analyze
from comfylog.render.terminal import render_terminal

from .cli import run_cli
from .conftest import CORPUS, EXAMPLES, ROOT, corpus_or_skip


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
