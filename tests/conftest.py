"""Shared test helpers: where the shared corpus lives, and a tally of corpus facts matched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: Facts checked against ../shared/corpus/expected.json, tallied for the terminal summary.
FACT_TALLY = {"matched": 0, "checked": 0}


def corpus_or_skip() -> Path:
    if not (CORPUS / "expected.json").is_file():
        pytest.skip("shared corpus not found beside the project (../shared/corpus)")
    return CORPUS


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
