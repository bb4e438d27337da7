"""The verdict table: what comfylog must say about each real log, checked line by line against the log.

``verdicts.toml`` holds one entry per log (the shared corpus, the scenarios, the example logs and the
fixtures): the findings that must fire and must not, ``comfylog check``'s exit code, and phrases the
terminal report must or must not show. Every claim names the line of the log that justifies it
(``line`` and ``says``: the text that line holds), and this test checks that the line says so, so a
verdict cannot drift from the log it is about. The file's header says how to add an entry.

An entry marked ``pending = "why"`` is what a correct tool must say but comfylog does not yet: it is
expected to fail (xfail, strict), and the moment it passes the test fails until the marker goes.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from comfylog.read.clean import ANSI_RE

from ..cli import run_cli
from ..conftest import CORPUS, EXAMPLES, FIXTURES

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

TABLE = Path(__file__).with_name("verdicts.toml")
#: Where each kind of ``file`` lives: ``corpus/043`` is the corpus log whose name starts with 043.
ROOTS = {"corpus": CORPUS / "logs", "scenarios": CORPUS / "scenarios", "examples": EXAMPLES, "fixtures": FIXTURES}
#: Wide enough that titles and most sentences stay on one line; phrases are matched across wraps anyway.
COLUMNS = 250


def entries() -> list[Any]:
    table = tomllib.loads(TABLE.read_text(encoding="utf-8"))
    params = []
    for entry in table["log"]:
        name = entry["file"] + (f" vs {entry['baseline']}" if "baseline" in entry else "") + (
            f" (lines 1-{entry['cut']})" if "cut" in entry else "")
        marks = [pytest.mark.xfail(strict=True, reason=entry["pending"])] if "pending" in entry else []
        params.append(pytest.param(entry, id=name, marks=marks))
    return params


def resolve(name: str) -> Path:
    kind, _, rest = name.partition("/")
    root = ROOTS[kind]
    if kind == "corpus":
        found = sorted(root.glob(f"{rest}-*.log"))
        if not found:
            pytest.skip(f"{name}: not in the shared corpus (../shared/corpus)")
        return found[0]
    path = root / rest
    if not path.is_file():
        pytest.skip(f"{name}: not found")
    return path


@cache
def physical_lines(path: Path) -> tuple[str, ...]:
    """The log's lines as comfylog numbers them (split at LF only), colours removed."""
    text = path.read_bytes().decode("utf-8", "replace")
    return tuple(ANSI_RE.sub("", line) for line in text.split("\n"))


def assert_justified(path: Path, claim: dict[str, Any], what: str) -> None:
    """The claim's ``line`` of the log holds its ``says`` (or it gives its reason in ``because``)."""
    if "line" not in claim:
        assert claim.get("because"), f"{what}: give the log line that justifies it (line, says) or a because"
        return
    lines = physical_lines(path)
    number = int(claim["line"])
    assert 1 <= number <= len(lines), f"{what}: {path.name} has no line {number}"
    assert claim["says"] in lines[number - 1], (
        f"{what}: line {number} of {path.name} does not say {claim['says']!r}: {lines[number - 1][:200]!r}")


def words(text: str) -> str:
    """Terminal output with every run of white space (wraps, table gutters) as one space."""
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("entry", entries())
def test_verdict(entry: dict[str, Any], tmp_path: Path) -> None:
    path = resolve(entry["file"])
    log = path
    if "cut" in entry:  # the same log cut after line N, as a console copied too early is
        log = tmp_path / path.name
        log.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[: int(entry["cut"])]) + b"\n")
    before = [str(resolve(name)) for name in entry.get("before", [])]  # read first, as one report
    for claim in [*entry.get("fire", []), *entry.get("silent", []), *entry.get("shows", []), *entry.get("hides", [])]:
        assert_justified(resolve(claim["in"]) if "in" in claim else path, claim,
                         f"{entry['file']}: {claim.get('id') or claim.get('text')}")
    if "baseline" in entry:
        terminal = run_cli("compare", str(log), str(resolve(entry["baseline"])), text=True, columns=COLUMNS)
        assert terminal.returncode == 0, terminal.stderr
    else:
        data = run_cli("analyze", *before, str(log), "-f", "json", text=True)
        assert data.returncode == (2 if entry.get("check") == 2 else 0), data.stderr
        fired = {f["id"] for f in json.loads(data.stdout)["findings"]} if data.returncode == 0 else set()
        for claim in entry.get("fire", []):
            assert claim["id"] in fired, f"{claim['id']} must fire on {entry['file']} (fired: {sorted(fired)})"
        for claim in entry.get("silent", []):
            assert claim["id"] not in fired, f"{claim['id']} must not fire on {entry['file']}"
        if "check" in entry:
            checked = run_cli("check", *before, str(log), text=True, columns=COLUMNS) if not before else None
            if checked is not None:
                assert checked.returncode == entry["check"], str(checked.stdout) + str(checked.stderr)
        terminal = run_cli("analyze", *before, str(log), text=True, columns=COLUMNS)
    shown = words(str(terminal.stdout) + str(terminal.stderr))
    for claim in entry.get("shows", []):
        assert words(claim["text"]) in shown, f"the terminal must show {claim['text']!r}"
    for claim in entry.get("hides", []):
        assert words(claim["text"]) not in shown, f"the terminal must not show {claim['text']!r}"
