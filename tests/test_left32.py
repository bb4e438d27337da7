"""The seventh field round's leftovers (research/field7, "Found and not fixed"): each on an excerpt of the log that
showed it (tests/fixtures/README.md names the source of each)."""

from __future__ import annotations

from comfylog.api import analyze
from comfylog.diagnose.deaths import work_left
from comfylog.diagnose.facts import Facts

from .conftest import FIXTURES, found


def test_a_kill_after_a_finished_sampling_bar_is_told_after_sampling(each_segmenter: str) -> None:
    """kijai/ComfyUI-WanVideoWrapper#20 (field7 N6): `30/30 [06:13<00:00, 12.46s/it]`, then `Killed`. The title said
    "while running", as for a prompt with no sign of its work: its last line says its sampling had finished."""
    report = analyze(FIXTURES / "terminal-killed-after-sampling.log")
    finding = found(report, "comfyui-killed")
    assert finding.title == "ComfyUI was killed (SIGKILL) after sampling finished (30/30)"
    assert "was done sampling (30/30 steps) and on the work after it (the VAE decode, the save) then" in finding.why
    assert [ev.line for ev in finding.evidence] == [2, 1]  # the kill, then the finished bar
    work = work_left(Facts(report), report.prompts[0], None)
    assert (work.state, work.what, work.when) == ("sampled", "30/30", "after sampling finished (30/30)")
