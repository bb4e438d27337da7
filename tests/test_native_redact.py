"""The native redactor (native/src/redact.rs, ``comfylog._native.redact_line``) against read/redact.py's
``Redactor()``, the reference: the same text and the same marks by kind, on every line of every real
log, on test_redact.py's cases and on lines made of the rules' own pieces (needles, separators,
marks, token shapes) by hypothesis. Lines it does not take (not ASCII) are Python's.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comfylog.parse.native import native_module
from comfylog.read.redact import LABEL_ENDS, MARK, URL_KEY_ENDS, Redactor

from .test_hostile_patterns import hostile_lines
from .test_native_scanner import REAL_LOGS, needs_native
from .test_redact import CASES, SECRETS

pytestmark = needs_native


def assert_same(line: str) -> None:
    """redact.rs's text and marks by kind are redact.py's (or it leaves a non-ASCII line to Python)."""
    module = native_module()
    assert module is not None
    got = module.redact_line(line)
    if not line.isascii():
        assert got is None
        return
    counts: Counter[str] = Counter()
    expected = Redactor().redact(line, counts)
    assert got is not None
    text, marks = got
    assert (text, dict(marks)) == (expected, dict(counts)), line


def real_lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", "replace").replace("\r", "\n").split("\n")


@pytest.mark.skipif(not REAL_LOGS, reason="no corpus")
def test_every_line_of_every_real_log_redacts_the_same() -> None:
    lines = [line for path in REAL_LOGS for line in real_lines(path)]
    redacted = 0
    for line in lines:
        assert_same(line)
        redacted += Redactor().redact(line) != line
    assert redacted > 100  # the corpus holds home paths, URLs and tokens: the comparison saw redactions


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_each_kind_of_secret_redacts_the_same(line: str, expected: str | None) -> None:
    assert_same(line)


def test_a_line_that_is_not_ascii_is_left_to_python() -> None:
    module = native_module()
    assert module is not None
    assert module.redact_line("C:\\Users\\Zoë\\ComfyUI") is None
    assert module.redact_line("/home/alice/ComfyUI") == ("/home/[redacted:user]/ComfyUI", [("user", 1)])


#: The rules' pieces: needles, label words and separators, URL keys, heads, marks, the characters
#: that end or bound a value, and token shapes, so that made lines reach every rule and its edges.
PIECES = st.one_of(
    st.sampled_from([
        "rpa_", "hf_", "sk-", "sk-proj-", "sk-ant-api03-", "AKIA", "ASIA", "ghp_", "github_pat_", "eyJ", "://",
        "https://", "user:", "@", "Bearer ", "bearer\t", "BEARER  ", "Authorization: ", "authorization=\"",
        "Basic ", "token ", "digest ", "/home/", "/Users/", "C:\\Users\\", "c:/users/", "C:\\\\Users\\\\",
        "D:\\USERS/", "Shared", "Public", "All Users", "git", "runpod_", "RUNPOD_API_KEY", "secret_access_key",
        "AWS_SECRET_ACCESS_KEY", "client-secret", "api-key", "password", "passwd", "pwd", "access_key_id",
        MARK, "[redacted:user]", "true", "none", "$HOME", "********", "xX.-_", "example.com", ".co.uk",
        *URL_KEY_ENDS, *LABEL_ENDS[::4], "?", "&", ";", "#", "=", ":", " ", "\t", "  ", "/", "\\", "\"", "'",
        ".", "-", "_", "%", "+", "<", ">", "|", "*", "(", "[", "]", "{", ",", "\x1b[0m", "\x1f", "\x7f",
    ]),
    st.sampled_from([  # whole heads and labels, which the pieces above rarely line up
        "?token=", "&api_key=", ";x-amz-signature=", "&sig=", "?X-Goog-Credential=", "&client-secret=",
        "https://bob:", "ftp://a.b:", "s3+x://u:", "Authorization: Basic ", "authorization='token  ",
        "AWS_SECRET_ACCESS_KEY=", "api_key: ", "password = \"", "MY.TOKEN:\t", "eyJhbGciOiJI.eyJzdWIiOjEy.",
        "eyJ0eXAiOiJKV1QiLC", "Bearer abcdefgh12", "/home/alice/", "C:\\Users\\Bob Smith\\", "a.b@c.io",
    ]),
    st.text("abcdefghijkmnopqrstuvwxyzABCDEFXYZ0123456789", min_size=1, max_size=70),
    SECRETS,
)
LINES = st.lists(PIECES, max_size=14).map("".join)


@settings(max_examples=1500, deadline=None)
@given(LINES)
def test_made_lines_redact_the_same(line: str) -> None:
    assert_same(line)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=200))
def test_any_ascii_text_redacts_the_same(line: str) -> None:
    assert_same(line)


def test_hostile_lines_redact_the_same() -> None:
    """test_hostile_patterns.py's 100 kB lines built from the rules' own characters and pieces."""
    source = "".join(rule.regex.pattern for rule in Redactor().rules)
    example = "RUNPOD_API_KEY=ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 a@b.example /home/alice/x hf_" + "a" * 30
    for _, line in hostile_lines(source, example):
        assert_same(line)
