"""text.py's wording helpers: the article before a number is the one it is said with."""

from __future__ import annotations

import pytest

from comfylog.text import with_article


@pytest.mark.parametrize(("phrase", "expected"), [
    ("8-step run", "an 8-step run"), ("18-step run", "an 18-step run"), ("11-step run", "an 11-step run"),
    ("1-step run", "a 1-step run"), ("80 GB GPU", "an 80 GB GPU"), ("6 GB GPU", "a 6 GB GPU"),
    ("110-step run", "a 110-step run"), ("11000 MB", "an 11000 MB"), ("18,000 MB", "an 18,000 MB"),
    ("1100 MB", "a 1100 MB"), ("8.5 GB", "an 8.5 GB"),
])
def test_the_article_goes_by_how_the_number_is_said(phrase: str, expected: str) -> None:
    assert with_article(phrase) == expected
    assert with_article(phrase, capital=True) == expected[0].upper() + expected[1:]
