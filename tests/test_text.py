"""text.py's wording helpers: the article before a number is the one it is said with, and one span of time is
shown the same everywhere (one rounding rule, text.dur)."""

from __future__ import annotations

import re

import pytest

from comfylog.api import analyze
from comfylog.text import dur, dur_compact, signed_dur, with_article

from .cli import run_cli
from .conftest import FIXTURES


@pytest.mark.parametrize(("phrase", "expected"), [
    ("8-step run", "an 8-step run"), ("18-step run", "an 18-step run"), ("11-step run", "an 11-step run"),
    ("1-step run", "a 1-step run"), ("80 GB GPU", "an 80 GB GPU"), ("6 GB GPU", "a 6 GB GPU"),
    ("110-step run", "a 110-step run"), ("11000 MB", "an 11000 MB"), ("18,000 MB", "an 18,000 MB"),
    ("1100 MB", "a 1100 MB"), ("8.5 GB", "an 8.5 GB"),
])
def test_the_article_goes_by_how_the_number_is_said(phrase: str, expected: str) -> None:
    assert with_article(phrase) == expected
    assert with_article(phrase, capital=True) == expected[0].upper() + expected[1:]


#: field6 14 (tests/fixtures/README.md): 14.749709 s from the first stamp to the last. The header read the exact
#: span ("log spans 14.7s"), the run's time row the same span kept to the millisecond, 14.75 s ("(14.8s)").
SPAN_ROUNDING = FIXTURES / "desktop-error-report-span-rounding.log"


def test_one_span_reads_the_same_in_the_header_and_the_run_row_of_every_report(each_segmenter: str) -> None:
    report = analyze(SPAN_ROUNDING)
    (run,) = report.runs
    assert report.summary.span_s is not None and run.span_s is not None
    assert report.summary.span_s != run.span_s  # the two quantities differ in precision, as they are kept
    shown = dur(run.span_s)
    assert dur(report.summary.span_s) == shown
    terminal = run_cli("analyze", str(SPAN_ROUNDING), columns=120, text=True).stdout
    markdown = run_cli("analyze", str(SPAN_ROUNDING), "--format", "markdown", text=True).stdout
    html = run_cli("analyze", str(SPAN_ROUNDING), "--format", "html", text=True).stdout
    assert f"log spans {shown}" in terminal and f"({shown})" in terminal
    spans = set(re.findall(r"\b(\d+\.\d)s\b", terminal + markdown + html)) - {"14.5", "0.0"}  # start-up, imports
    assert spans == {shown[:-1]}, spans


@pytest.mark.parametrize(("seconds", "shown"), [
    (14.749709, "14.8s"), (14.75, "14.8s"), (14.7449, "14.7s"), (0.05, "0.1s"), (0.0449, "0.0s"),
    (59.94, "59.9s"), (59.96, "1:00"), (62.5, "1:03"), (3599.4, "59:59"), (3599.5, "1:00:00"), (-12.04, "-12.0s"),
])
def test_a_duration_is_rounded_to_the_millisecond_then_half_up(seconds: float, shown: str) -> None:
    assert dur(seconds) == shown
    assert dur(round(seconds, 3)) == shown  # as a record keeps it


def test_compact_durations_round_as_dur_does() -> None:
    assert dur_compact(3599.4) == "59:59"
    assert dur_compact(3599.5) == "1h00m"
    assert dur_compact(9691.7) == "2h42m"
    assert signed_dur(-65.5) == "−1:06" and signed_dur(14.75) == "+14.8s"
