"""Shared test helpers: where the shared corpus lives, and a tally of corpus facts matched."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from comfylog.model import Finding, Report

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"

#: Facts checked against ../shared/corpus/expected.json, tallied for the terminal summary.
FACT_TALLY = {"matched": 0, "checked": 0}


def found(report: Report, rule_id: str) -> Finding:
    """The one finding of ``rule_id`` (fails when there is none or more than one)."""
    hits = [f for f in report.findings if f.id == rule_id]
    assert len(hits) == 1, [f.id for f in report.findings]
    return hits[0]


def ids(report: Report) -> set[str]:
    """The ids of the report's findings."""
    return {f.id for f in report.findings}


def corpus_or_skip() -> Path:
    if not (CORPUS / "expected.json").is_file():
        pytest.skip("shared corpus not found beside the project (../shared/corpus)")
    return CORPUS


def corpus_log(prefix: str) -> Path:
    """The corpus log whose name starts with ``prefix`` (``"031"``); skips without the corpus."""
    return next((corpus_or_skip() / "logs").glob(f"{prefix}-*.log"))


def expected_logs() -> list[dict[str, Any]]:
    path = CORPUS / "expected.json"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")))


def expected_scenarios() -> list[dict[str, Any]]:
    path = CORPUS / "scenarios" / "expected.json"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FACT_TALLY["checked"]:
        terminalreporter.write_line(
            f"corpus ground truth: {FACT_TALLY['matched']}/{FACT_TALLY['checked']} facts matched"
        )


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="write the golden files (tests/golden) from the current output instead of checking them")


@pytest.fixture(params=["native", "python"])
def each_segmenter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test once with each segmenter (COMFYLOG_SEGMENTER): the Rust one, the default where the
    native scanner reads (skipped where it is not installed), and Python's, the reference."""
    from comfylog.parse.native import native_module

    if request.param == "native" and native_module() is None:
        pytest.skip("the native scanner is not installed: only Python's segmenter runs")
    monkeypatch.setenv("COMFYLOG_SEGMENTER", request.param)
    return str(request.param)


@pytest.fixture()
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """``golden(name, text)``: ``text`` must equal tests/golden/NAME; a missing golden file fails.

    After a deliberate change of the output, ``pytest --update-goldens`` writes them; review the diff.
    """
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, got: str) -> None:
        path = GOLDEN / name
        if update:
            path.write_text(got, encoding="utf-8")
            return
        if not path.is_file():
            pytest.fail(f"golden file {path.relative_to(ROOT)} is missing: write it with pytest --update-goldens "
                        "and review it")
        assert got == path.read_text(encoding="utf-8"), f"{name} differs (after a deliberate change: --update-goldens)"

    return check
