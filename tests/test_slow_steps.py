"""slow-steps tells a larger job from a slower GPU where the log says the job's size: a video wrapper's
``Sampling 61 frames in 16 latents at 720x480 with 30 inference steps`` (015). Elsewhere ComfyUI logs
neither the size nor the batch, and the finding gives the readings, each with what it can explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfylog.api import analyze
from comfylog.model import Finding

from .conftest import corpus_log

FIXTURE = Path(__file__).parent / "fixtures" / "video-larger-job-slow-steps.log"


def _slow_steps(path: Path) -> Finding:
    (found,) = [f for f in analyze(path).findings if f.id == "slow-steps"]
    return found


def test_a_larger_video_job_is_named_as_the_cause() -> None:
    # the fixture's prompt 4 sampled 61 frames at 1280x720 (line 117) where prompts 1-3 sampled 720x480
    found = _slow_steps(FIXTURE)
    assert found.title == "1 prompt sampled 2.7x slower per step than the same sampler in 3 other prompts: a 2.7x " \
                          "larger job"
    assert "show a larger job: 61 frames at 1280x720 with 30 steps in this prompt (line 117) against 61 frames at " \
           "720x480 with 30 steps in the others, 2.7x the frames × pixels" in found.why
    assert "GPU ran slower" not in found.why
    assert found.advice == ["Nothing is wrong with the machine if the larger job was meant (61 frames at 1280x720 "
                            "with 30 steps against 61 frames at 720x480 with 30 steps); if not, check the size in "
                            "this prompt's workflow"]


def test_the_same_video_job_slower_is_the_gpu(tmp_path: Path) -> None:
    # the same fixture with prompt 4's job as 015 printed it: 720x480, as the others
    same = tmp_path / "same-job.log"
    same.write_bytes(FIXTURE.read_bytes().replace(b"at 1280x720 with", b"at 720x480 with"))
    found = _slow_steps(same)
    assert not found.title.endswith("larger job")
    assert "show the same job in this prompt (61 frames at 720x480 with 30 steps, line 117)" in found.why
    # 2.7x is more than a step that runs the model twice can cost
    assert "would take at most twice as long, not 2.7x: so the GPU ran slower then" in found.why
    assert not any("image size and batch" in a for a in found.advice)


@pytest.mark.parametrize("prefix", ["003", "017"])
def test_without_the_size_the_readings_say_what_each_explains(prefix: str) -> None:
    found = _slow_steps(corpus_log(prefix))
    assert "The log shows neither the image size nor the batch" in found.why
    assert "up to twice the time, would a step that runs the model twice" in found.why
    assert found.advice[0].startswith("Compare ")
