"""An OOM's advice follows where its traceback shows it came: loading a model, sampling, or the VAE decode or
encode.

Lowering the resolution does not help when the weights alone do not fit (034: the OOM is in
``load_checkpoint_guess_config``); it does when sampling ran out (019). The frames come from the
traceback record, which both scanners fill the same way.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from comfylog.api import analyze
from comfylog.events import Activity, Event, EventKind
from comfylog.model import Finding, Report
from comfylog.parse import Parser
from comfylog.parse.native import NativeParser, native_module
from comfylog.parse.traceback import MAX_FRAMES
from comfylog.read.lines import open_input, read_lines

from .conftest import FIXTURES, corpus_or_skip


def corpus_log(prefix: str) -> Path:
    return next((corpus_or_skip() / "logs").glob(f"{prefix}-*.log"))


@cache
def report(prefix: str) -> Report:
    return analyze(corpus_log(prefix))


def oom(prefix: str) -> Finding:
    hits = [f for f in report(prefix).findings if f.id == "oom"]
    assert len(hits) == 1
    return hits[0]


def test_the_traceback_keeps_its_frames_innermost_last() -> None:
    tracebacks = [ev for ev in report("034").notable if ev.kind is EventKind.TRACEBACK and ev.fields.get("oom")]
    frames = tracebacks[0].fields["frames"]
    # 034 lines 154-173: execution.py's frames, then the loader, down to torch's Linear
    assert frames[:5] == ["execution.py:recursive_execute", "execution.py:get_output_data",
                          "execution.py:map_node_over_list", "nodes.py:load_checkpoint",
                          "sd.py:load_checkpoint_guess_config"]
    assert frames[-1] == "linear.py:__init__" and len(frames) == 16


@pytest.mark.skipif(native_module() is None, reason="comfylog was installed without the native scanner")
def test_a_deep_traceback_keeps_its_innermost_frames_in_both_scanners(tmp_path: Path) -> None:
    """Recursion prints thousands of frames: both scanners keep the innermost MAX_FRAMES, the same ones."""
    lines = corpus_log("034").read_text(encoding="utf-8").splitlines()
    start = max(i for i, line in enumerate(lines) if line.endswith("Traceback (most recent call last):"))
    frame = lines[start + 1: start + 3]  # execution.py's first frame and its code line
    deep = [*lines[:start + 1], *(frame * 100), *lines[start + 1:]]
    path = tmp_path / "deep.log"
    path.write_text("\n".join(deep) + "\n", encoding="utf-8")

    def frames_of(items: list[Event | Activity]) -> list[list[str]]:
        return [it.fields["frames"] for it in items
                if isinstance(it, Event) and it.kind is EventKind.TRACEBACK and "frames" in it.fields]

    _, raw = read_lines(str(path))
    python = Parser(0)
    expected = frames_of([it for line in raw for it in python.feed(line)] + list(python.close()))
    log = open_input(str(path), None, blocks=True)
    assert log.blocks is not None
    native = NativeParser(0, log.source)
    got = frames_of([it for block in log.blocks for it in native.feed(block)] + list(native.close()))
    oom_frames = expected[-1]
    assert len(oom_frames) == MAX_FRAMES and oom_frames[-1] == "linear.py:__init__"
    assert got == expected


def test_an_oom_while_loading_a_checkpoint_asks_for_less_weight_not_a_smaller_image() -> None:
    finding = oom("034")
    assert "It came while a model was being loaded (`sd.py:load_checkpoint_guess_config`, building its text " \
           "encoder)" in finding.why
    advice = " ".join(finding.advice)
    assert "resolution" not in advice and "tiled VAE" not in advice
    assert finding.advice[0].startswith("Drop `--highvram`")  # it kept the other models on the GPU
    assert "fp8 or GGUF" in advice and "`--lowvram` (or `--novram`)" in advice
    assert "`Load CLIP` node set to `device: cpu`" in advice
    assert "PYTORCH_CUDA_ALLOC_CONF" not in advice


@pytest.mark.parametrize(("prefix", "node", "frame"), [
    ("033", "comfyui_segment_anything", "node.py:load_sam_model"),
    ("035", "ComfyUI-IDM-VTON", "pipeline_loader.py:load_pipeline"),
])
def test_a_custom_node_that_moves_its_model_to_the_gpu_is_named(prefix: str, node: str, frame: str) -> None:
    """`.to(device)` in the node's own code: ComfyUI's `--lowvram` does not offload that model."""
    finding = oom(prefix)
    assert f"(`{frame}`)" in finding.why
    assert finding.advice[0].startswith(f"`{node}` moves its model to the GPU itself (`{frame}`)")
    assert not any("resolution" in a or "Start ComfyUI with `--lowvram`" in a for a in finding.advice)


def test_an_oom_while_sampling_keeps_the_smaller_job_advice() -> None:
    finding = oom("019")
    assert "It came while sampling (`model_base.py:apply_model`)." in finding.why
    # first the TTS node's model that held the GPU (test_diagnose.py), then the smaller job
    assert finding.advice[1] == "Lower the resolution or the batch size"


def test_an_oom_in_the_vae_decode_asks_for_the_tiled_decode_first() -> None:
    finding = oom("007")
    assert "It came in the VAE decode (`autoencoder.py:decode`)." in finding.why
    assert finding.advice[0].startswith("Decode with the `VAE Decode (Tiled)` node")
    assert sum("tiled" in a.lower() for a in finding.advice) == 1


def test_an_oom_whose_frames_say_nothing_keeps_the_general_advice() -> None:
    finding = oom("006")  # an inpainting model's forward in a custom node: no loader, sampler or decoder
    assert "came" not in finding.why
    # First what the memory figures show (8 GiB held outside PyTorch's tensors), then the general advice.
    assert finding.advice[1] == "Lower the resolution or the batch size"



def _tracebacks_both(path: Path) -> tuple[list[Event], list[Event]]:
    """The traceback events of ``path`` read by Python's parser and by the native scanner."""
    def tracebacks(items: list[Event | Activity]) -> list[Event]:
        return [it for it in items if isinstance(it, Event) and it.kind is EventKind.TRACEBACK]

    _, raw = read_lines(str(path))
    python = Parser(0)
    expected = tracebacks([it for line in raw for it in python.feed(line)] + list(python.close()))
    if native_module() is None:
        return expected, expected
    log = open_input(str(path), None, blocks=True)
    assert log.blocks is not None
    native = NativeParser(0, log.source)
    return expected, tracebacks([it for block in log.blocks for it in native.feed(block)] + list(native.close()))


def test_a_traceback_pasted_without_its_header_is_read_with_its_frames() -> None:
    """Comfy-Org/ComfyUI #6176 (tests/fixtures/oom-traceback-head-cut.log): the paste starts at a code line of
    the traceback, its ``Traceback (most recent call last):`` cut off; the frames through ``partially_load``
    and torch's ``.to()`` say the OOM came while the model's weights were moved to the GPU."""
    path = FIXTURES / "oom-traceback-head-cut.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("    return self.model.partially_load(") and lines[17].startswith("torch.OutOfMemory")
    python, native = _tracebacks_both(path)
    assert python == native
    (tb,) = python
    assert (tb.line, tb.end_line, tb.fields["lines"]) == (1, 18, 17)
    assert tb.fields["exception_type"] == "torch.OutOfMemoryError" and tb.fields["oom"] is True
    assert tb.fields["frames"][:3] == ["model_patcher.py:partially_load", "model_patcher.py:partially_load",
                                       "model_patcher.py:load"]
    finding = next(f for f in analyze(path).findings if f.id == "oom")
    assert "It came while a model was being loaded (`model_patcher.py:load`)" in finding.why
    advice = " ".join(finding.advice)
    assert "resolution" not in advice and "fp8 or GGUF" in advice


def test_indented_lines_at_the_start_that_end_in_no_exception_are_read_as_they_are(tmp_path: Path) -> None:
    """An excerpt that starts inside the import-times list (tests/fixtures/desktop-import-failed-cut.log's
    last rows, indented after their prefix) is no traceback: its rows are read, by both scanners."""
    lines = (FIXTURES / "desktop-import-failed-cut.log").read_text(encoding="utf-8").splitlines()
    rows = lines[-5:]
    assert all(" - root - INFO -    0.0 seconds" in row for row in rows)
    path = tmp_path / "cut.log"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert _tracebacks_both(path) == ([], [])
    (run,) = analyze(path).runs
    assert [failed for _, _, failed, _ in run.import_times] == [False, True, False, False, False]


def test_allocation_on_device_cut_at_the_device_index_is_an_oom(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#6073: cudaMallocAsync's `Allocation on device N would exceed allowed memory` arrives as
    `Allocation on device ` (PyTorch streamed the int8 device index 0 as a NUL, which ends the Python message).
    The paste's traceback stops before `torch.OutOfMemoryError`, so only the message says OOM; it was told as an
    exception of the workflow ("missing files and wrong inputs are fixed in the workflow")."""
    found = analyze(FIXTURES / "oom-allocation-on-device-nul-cut.log")
    assert [(e.kind, e.message, e.line) for e in found.errors] == [("oom", "Allocation on device", 1)]
    ids = [f.id for f in found.findings]
    assert "oom" in ids and "exception" not in ids


def test_an_oom_in_the_vae_encode_asks_for_a_smaller_input_not_the_tiled_decode(each_segmenter: str) -> None:
    """Comfy-Org/ComfyUI#7761 (field6 07): WanImageToVideo's VAE encode of its start image ran out of memory, was
    retried in tiles and ran out again; the traceback's frames are `sd.py` / `ldm/wan/vae.py` `encode`. The advice was
    "Decode with the tiled VAE node; offload weights", for a decode that never ran (the encode comes before
    sampling)."""
    found = analyze(FIXTURES / "vae-encode-tiled-retry-then-oom.log")
    (finding,) = [f for f in found.findings if f.id == "oom"]
    assert "It came in the VAE encode (`vae.py:encode`)." in finding.why
    assert finding.advice[0].startswith("Give the VAE a smaller image or video to encode")
    assert not any("Decode" in a for a in finding.advice)
