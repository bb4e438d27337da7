"""A log whose clock goes back: two logs joined newest first (``cat comfyui.log comfyui.prev.log``, ComfyUI's
own rotation names). The parsers held every activity time at the latest stamp seen, so the older log's work fell
outside its prompts (all "other", its loads untimed), its start-up counted as a restart, and the header said
"log spans -70203.2s"."""

from __future__ import annotations

import pytest

from comfylog.api import analyze, analyze_text
from comfylog.index import span_words
from comfylog.parse.native import native_module

from .conftest import EXAMPLES

NEWER = EXAMPLES / "runpod-oom-restart.log"  # 2025-10-23 16:27-16:28, a restart after a silent crash
OLDER = EXAMPLES / "runpod-lowvram-gguf.log"  # 2025-10-22 20:45-20:57, one prompt


@pytest.fixture(params=["native", "python"])
def each_scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "native" and native_module() is None:
        pytest.skip("the native scanner is not installed")
    monkeypatch.setenv("COMFYLOG_SCANNER", request.param)
    return str(request.param)


def test_logs_joined_newest_first_are_timed_as_each_alone(each_scanner: str, each_segmenter: str) -> None:
    newer, older = NEWER.read_text("utf-8"), OLDER.read_text("utf-8")
    alone = analyze([NEWER, OLDER])
    joined = analyze_text(newer + older)
    assert [p.phases for p in joined.prompts] == [p.phases for p in alone.prompts]
    assert [p.status for p in joined.prompts] == [p.status for p in alone.prompts]
    older_prompt = joined.prompts[-1]
    assert older_prompt.phases.load is not None and older_prompt.phases.load > 300  # 6:04 of partial loads
    # the older log's start-up is no restart of the newer one's last process: one restart (the crash), no loop
    assert [r.restart for r in joined.runs] == [False, True, False]
    assert joined.summary.restarts == 1
    assert "restart-loop" not in {f.id for f in joined.findings}
    # its span runs from the earliest stamp to the latest, and the header says where the clock goes back
    source = joined.sources[0]
    first_older_line = len(newer.splitlines()) + 1
    assert source.clock_back_line == first_older_line
    assert source.first_at is not None and source.first_at.isoformat().startswith("2025-10-22T20:45:31")
    assert source.last_at is not None and source.last_at.isoformat().startswith("2025-10-23T16:28:28")
    assert joined.summary.span_s is not None and joined.summary.span_s > 0
    assert span_words(joined) == (f"log spans 19:42:57 (earliest to latest stamp: the clock goes back at line "
                                  f"{first_older_line}; logs joined out of order?)")


def test_a_clock_a_moment_back_is_held_not_reset(each_scanner: str, each_segmenter: str) -> None:
    """Two writers a few seconds apart (a stamp 5 s behind the one before it) are no clock going back: nothing is
    said, and the span is the log's first to last stamp."""
    text = NEWER.read_text("utf-8")
    lines = text.splitlines(keepends=True)
    late = next(i for i, line in enumerate(lines) if "got prompt" in line)
    stamp = lines[late][:30]  # 2025-10-23T16:27:…Z, nine digits
    behind = stamp[:17] + f"{int(stamp[17:19]) - 5:02d}" + stamp[19:]
    other_writer = f"{behind} a line from another writer\n"
    report = analyze_text("".join(lines[:late + 1]) + other_writer + "".join(lines[late + 1:]))
    assert report.sources[0].clock_back_line is None
    assert span_words(report) == span_words(analyze(NEWER))
    assert [p.phases for p in report.prompts] == [p.phases for p in analyze(NEWER).prompts]
