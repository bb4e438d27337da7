"""The progress display: nothing for short work or off a terminal, a line on stderr for work that lasts."""

from __future__ import annotations

import io
import os
import time

from rich.console import Console

from comfylog.pipeline import analyze_paths
from comfylog.render.progress import ProgressDisplay

from .cli import run_cli
from .conftest import EXAMPLES

LOG = EXAMPLES / "runpod-lowvram-gguf.log"


def test_the_pipeline_reports_the_bytes_read_then_the_diagnosis() -> None:
    seen: list[tuple[str, float, float | None]] = []
    analyze_paths([str(LOG), str(EXAMPLES / "local-baseline.log")], progress=lambda *state: seen.append(state))
    size = os.path.getsize(LOG) + os.path.getsize(EXAMPLES / "local-baseline.log")
    reading = [s for s in seen if s[0].startswith("reading ")]
    assert reading and all(total == size for _, _, total in reading)
    assert [done for _, done, _ in reading] == sorted(done for _, done, _ in reading)
    assert reading[-1][1] == size and reading[0][0] == "reading runpod-lowvram-gguf.log"
    assert seen[-1] == ("finding causes", 0, None)


def test_a_display_appears_only_after_the_delay_and_is_gone_at_the_end() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80)
    with ProgressDisplay(console, after=0.2) as progress:
        progress("reading big.log", 10, 100)
        assert not progress.shown and out.getvalue() == ""  # short work shows nothing
        time.sleep(0.6)
        assert progress.shown  # one long step appears by itself, with the last state it was told
        progress("reading big.log", 50, 100)
    assert not progress.shown
    assert "reading big.log" in out.getvalue() and "50%" in out.getvalue()


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    done = run_cli("analyze", str(LOG), "-f", "json", text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert not ProgressDisplay().enabled  # pytest's stderr is no terminal
