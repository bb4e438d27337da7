"""What ``comfylog analyze`` of a small log imports (issue 14: its start-up, the interpreter's included,
is time a person waits for every report). Behaviour, not timing: a module the terminal report of one log
never uses stays unimported, since importing it would cost every start and show nowhere."""

from __future__ import annotations

import re
import subprocess
import sys

from comfylog.lazyre import lazy_re
from comfylog.parse.native import scanner
from comfylog.read import prefixes

from .conftest import EXAMPLES

#: Neither the analysis nor the terminal report of one log uses these: other commands and outputs do.
NOT_IMPORTED = (
    "pandas", "numpy", "plotly", "pyarrow", "websockets", "prometheus_client",
    "comfylog.export", "comfylog.fleet", "comfylog.watch", "comfylog.compare", "comfylog.check",
    "comfylog.render.html", "comfylog.render.json", "comfylog.render.markdown", "comfylog.render.trace",
    "comfylog.read.redact",  # a run without --redact
)
#: Standard library modules comfylog imports only where it needs them (the median of a group of bars, a
#: spill to disk, a JSON log line); typer and rich may import them on their own, which is not comfylog's doing.
NOT_IMPORTED_BY_COMFYLOG = ("statistics", "tempfile", "json")

#: Runs the command line, then prints the modules typer and rich import (line 1) and all modules (line 2).
CHILD = """\
import sys
import typer, PRELOAD
before = sorted(sys.modules)
from comfylog.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
after = sorted(sys.modules)
print()
print(" ".join(before))
print(" ".join(after))
"""


def imported_by(*args: str, rich: bool = True) -> tuple[str, set[str], set[str]]:
    """What ``comfylog ARGS`` printed, the modules typer (and rich) import, and every module imported; with
    ``rich=False`` rich is not imported first, so that whether the command imports it shows."""
    child = CHILD.replace("PRELOAD", "rich.console, rich.table" if rich else "typer")
    done = subprocess.run([sys.executable, "-c", child, *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    *report, before, after = done.stdout.split("\n")[:-1]
    return "\n".join(report), set(before.split()), set(after.split())


def test_a_small_logs_terminal_report_imports_only_what_it_uses() -> None:
    report, before, after = imported_by("analyze", str(EXAMPLES / "runpod-lowvram-gguf.log"))
    assert "Where the time went" in report and "comfylog.render.terminal" in after  # it did report
    assert sorted(m for m in NOT_IMPORTED if m in after) == []
    assert sorted(m for m in NOT_IMPORTED_BY_COMFYLOG if m in after - before) == []
    if scanner() == "native":  # the native scanner read the log: the Python parser, its reference, is not needed
        assert "comfylog.parse.parser" not in after


def test_a_small_logs_json_imports_no_renderer_of_the_terminal() -> None:
    """The JSON is written without rich (~95 M instructions of the terminal report's start-up, issue 14)."""
    report, _, after = imported_by("analyze", str(EXAMPLES / "runpod-lowvram-gguf.log"), "--format", "json", rich=False)
    assert report.startswith("{") and "comfylog.render.json" in after
    assert sorted(m for m in (*NOT_IMPORTED, "rich", "comfylog.render.terminal") if m in after
                  and m != "comfylog.render.json") == []


def test_version_imports_neither_the_scanner_nor_the_records() -> None:
    """``--version`` names the scanner and the segmenter (engines.py) without importing them, the message
    table or the records (~130 M instructions, issue 14)."""
    report, _, after = imported_by("--version", rich=False)
    assert report.startswith("comfylog ") and "comfylog.engines" in after
    unused = ("rich", "comfylog.parse.native", "comfylog.parse.table", "comfylog.segment", "comfylog.model",
              "comfylog.api", "comfylog.pipeline", "comfylog.diagnose")
    assert sorted(m for m in unused if m in after) == []


def test_a_lazy_regex_compiles_on_first_use_then_is_the_compiled_patterns_own() -> None:
    """lazyre: the module-level regexes a small log never runs are never compiled; once one is used, its
    methods are re's own (the Python reader calls some on every line)."""
    line = (EXAMPLES / "runpod-lowvram-gguf.log").read_text(encoding="utf-8").splitlines()[0]
    docker = lazy_re(prefixes.DOCKER_RE.pattern)
    assert "match" not in vars(docker)  # nothing compiled yet
    found, expected = docker.match(line), re.compile(docker.pattern).match(line)
    assert found is not None and expected is not None and found.groups() == expected.groups()
    assert docker.match.__self__ is re.compile(docker.pattern)  # re's pattern itself
    assert docker.sub("", line) == "==========" and docker.groupindex == {}


def imported_by_process(*args: str) -> set[str]:
    """The modules ``python -m comfylog ARGS`` imports, from -X importtime (the real entry point: __main__)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "comfylog", *args], capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_a_plain_analyze_imports_no_typer() -> None:
    """``analyze LOG`` and ``analyze LOG --format json`` are read without typer (commands.py: ~90 M
    instructions of a small log's start-up, issue 14); help goes through typer, which shows that this looks."""
    log = str(EXAMPLES / "runpod-lowvram-gguf.log")
    for args in (("analyze", log), ("analyze", log, "--format", "json"), ("analyze", "-f", "json", "--limit=3", log)):
        modules = imported_by_process(*args)
        assert "comfylog.commands" in modules and "comfylog.api" in modules
        assert sorted(m for m in modules if m.split(".")[0] in ("typer", "click") or m == "comfylog.cli") == []
    assert "typer" in imported_by_process("analyze", "--help")
