"""The seventh field round's real logs (research/field7): what comfylog told wrongly, each on an excerpt of the
log that showed it (tests/fixtures/README.md names the source of each)."""

from __future__ import annotations

import pytest

from comfylog.api import analyze
from comfylog.read.prefixes import PrefixReader

from .cli import run_cli
from .conftest import FIXTURES, found, ids


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("4v3galu315o9lw[info]FETCH ComfyRegistry Data: 15/98\\n", "FETCH ComfyRegistry Data: 15/98"),
        ("4v3galu315o9lw[info]Finished.", "Finished."),
        # the message keeps a prefix of its own
        ("wtl51w400le1uh[error][INFO] got prompt\\n", "got prompt"),
        # fourteen characters before the level that are no worker id: the line stays as it is
        ("ABCDEFGHIJKLMN[info] got prompt", "ABCDEFGHIJKLMN[info] got prompt"),
    ],
)
def test_a_runpod_console_copy_without_its_time_column_is_read(line: str, text: str) -> None:
    """wlsdml1114/generate_video#3: RunPod's console view copied without its time column glues the worker's id to
    the level and the message, and writes the message's newline as `\\n`."""
    assert PrefixReader().read(line).text == text


def test_runpod_console_rows_are_a_worker_log_and_the_handler_exception_fails_the_job(each_segmenter: str) -> None:
    """The copy was refused as "not a ComfyUI log": its FETCH, `Finished.` and the handler's exception are a
    worker's. runpod-python logged the exception (`"error_message": "HTTP Error 400: Bad Request"` from the handler's
    `queue_prompt`): the job failed, and a 400 there is ComfyUI refusing the workflow."""
    report = analyze(FIXTURES / "runpod-console-worker-tag-handler-http-400.log")
    finding = found(report, "handler-error")
    assert finding.title == "The RunPod handler raised an exception: HTTPError: HTTP Error 400: Bad Request"
    assert "`POST /prompt`" in finding.advice[0] and "invalid prompt:" in finding.advice[0]
    assert [ev.line for ev in finding.evidence] == [4]
    assert not report.errors  # `Captured Handler Exception`, the record of it, is before the excerpt


def test_a_result_runpod_never_got_is_told_and_a_text_output_is_no_lost_video(each_segmenter: str) -> None:
    """runpod-workers/worker-comfyui#167: the job "completed" with no output because runpod-python's POST of the
    result failed (`Failed to return job results. | 400 …`), of which comfylog said nothing; and the `text` key a
    Save Image node also returned was told with advice for a lost video."""
    path = FIXTURES / "worker-comfyui-result-not-returned-text-output.log"
    report = analyze(path)
    lost = found(report, "result-not-returned")
    assert (lost.severity, lost.confidence) == ("error", "high")
    assert "400, message='Bad Request'" in lost.title
    assert "BUCKET_ENDPOINT_URL" in lost.advice[0]
    assert [ev.line for ev in lost.evidence] == [14]
    dropped = found(report, "output-dropped")
    assert "video" not in dropped.title + " ".join(dropped.advice)
    assert "['text']" in dropped.advice[0]
    done = run_cli("check", str(path), text=True)
    assert done.returncode == 1 and "result-not-returned" in str(done.stdout)


def test_a_terminal_s_killed_after_comfyui_s_last_line_is_its_death(each_segmenter: str) -> None:
    """kijai/ComfyUI-WanVideoWrapper#20: a bar at 30/30, then the interactive shell's bare `Killed` (bash's
    foreground job killed by SIGKILL). It was told as an unfinished prompt that "died without a message"."""
    report = analyze(FIXTURES / "terminal-killed-after-sampling.log")
    finding = found(report, "comfyui-killed")
    assert ids(report) == {"comfyui-killed"}
    assert "The shell ComfyUI ran in reports it `Killed`" in finding.why
    assert [ev.line for ev in finding.evidence][0] == 2 and finding.prompts == [0]


def test_a_finished_bar_is_sampling_even_when_a_later_bar_stopped_at_its_first_step(each_segmenter: str) -> None:
    """Acly/krita-ai-diffusion#2470: a 40-step bar done in 00:29, then a second pass's bar at 0/16 where the paste
    ends. The stuck bar made the prompt's whole inference "not timed" (`infer —`), losing the 29 s printed."""
    prompt = analyze(FIXTURES / "bar-done-then-second-bar-stuck-no-stamps.log").prompts[0]
    assert prompt.phases.inference == 29.0
    assert "inference" not in prompt.not_timed


def test_slow_prompts_are_measured_against_the_other_prompts(each_segmenter: str) -> None:
    """OrsoEric/HOWTO-ComfyUI (Qwen Image Edit, ROCm 7.2): 4 prompts at 120.31, 13.76, 17.51 and 70.09 s a step.
    The usual rate was the median of all four (43.80 s, the slow ones counted in), told as "the 3 other prompts'":
    prompt 1 was "2.7x" and prompt 4, four times the fast ones, not slow at all."""
    finding = found(analyze(FIXTURES / "qwen-edit-rocm-two-slow-prompts-of-four.log"), "slow-steps")
    assert finding.prompts == [0, 3]
    assert finding.figures["usual_s_per_step"] == pytest.approx(15.635)
    assert "in the log's 2 other prompts (the median)" in finding.why
    assert finding.title.startswith("2 prompts sampled 4.5-7.7x slower per step")


def test_fp8_weights_on_a_mac_are_named_as_the_cause(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#12202: `Trying to convert Float8_e4m3fn to the MPS backend` got the generic advice (no
    custom node in the traceback, fix missing files in the workflow): MPS has no fp8, the fp8 file is the cause."""
    finding = found(analyze(FIXTURES / "mps-fp8-weights-float8-exception.log"), "exception")
    assert "A Mac's GPU (MPS) has no `Float8_e4m3fn`" in finding.advice[0]
    assert "fp16 or bf16 file of the same model" in finding.advice[0]


def test_a_load_offered_only_the_floor_is_told_as_no_vram_left(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#10855 (HunyuanVideo 1.5): `128.00 MB usable` for the VAE, then its decode ran out of memory.
    Without the GPU's size it was told as weights that "stayed in RAM", with advice to check the loader's device:
    128 MB is ComfyUI's floor, offered when nothing is left for the weights."""
    finding = found(analyze(FIXTURES / "partial-load-at-floor-then-tiled-vae-decode.log"), "lowvram")
    assert finding.title.endswith("(only ComfyUI's floor, 128 MB)")
    assert "128 MB is the floor ComfyUI falls back to" in finding.why
    assert not any("main GPU" in a for a in finding.advice)


def test_one_queued_prompt_is_counted_in_the_singular(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#14179: "1 prompt had started, 1 were still queued"."""
    finding = found(analyze(FIXTURES / "ltx-got-prompt-glued-to-bar-one-queued.log"), "unfinished")
    assert "(1 prompt had started, 1 was still queued)" in finding.why
