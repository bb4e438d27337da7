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


def test_a_pasted_error_report_bar_is_timed_at_its_own_write_and_rated_by_its_steps(each_segmenter: str) -> None:
    """Zehong-Ma/ComfyUI-MagCache#45 (field7 N4): an error report's bar pasted with its `\\r` as a line break stands
    after the lone stamp of its write (20:03:16, `4/4 [18:30<00:00, 272.19s/it]`); the stamp glued after it is the
    next write's, tqdm's close 2:13 later (`4/4 [20:43<00:00, 310.90s/it]`). The bar was timed at the close's stamp,
    so the close was taken for a second bar of 20:43 and the prompt's rate for the close's average, the 2:13 after
    the last step in it; and the bar ran 0.6 s into the WanVAE's load."""
    report = analyze(FIXTURES / "error-report-bar-redrawn-after-last-step.log")
    prompt = report.prompts[1]
    bars = [bar for bar in report.progress_bars if bar.prompt == 1]
    assert [(bar.done, bar.total, bar.final_rate, bar.elapsed_s) for bar in bars] == [(4, 4, 272.19, 1243.6)]
    # it began with the sampler (RES4LYF's `rk_type: res_2s` at 19:44:46.273) and ended at its close's write
    assert [str(bars[0].start), str(bars[0].end)] == ["2026-01-17 19:44:46.261929", "2026-01-17 20:05:29.861929"]
    assert prompt.phases.inference == 1243.6
    assert prompt.phases.load == 3.057  # QwenImage 0.611 s, the WanVAE from the close to `loaded completely` 2.446 s
