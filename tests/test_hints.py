"""What an error message itself says to do (diagnose/hints.py), on messages copied from the corpus logs."""

from __future__ import annotations

import pytest

from comfylog.diagnose.hints import own_hint, own_words_advice


@pytest.mark.parametrize(("message", "hint"), [
    # 047 line 94
    ("Error generating multi-speaker speech: Model loading failed: VibeVoice embedded module import failed. Please "
     "ensure the vvembed folder exists and transformers>=4.51.3 is installed.",
     "Please ensure the vvembed folder exists and transformers>=4.51.3 is installed."),
    # 020 line 600 (the traceback's exception line)
    ('ValueError: Please use "fp4" quantization for Blackwell GPUs. ',
     'Please use "fp4" quantization for Blackwell GPUs.'),
    # 021 line 106: "them" points back at the sentence before, which comes along
    ("ERROR: No Stable Video Diffusion checkpoints found. Please download & place them in the ComfyUI/models/svd "
     "folder, and restart ComfyUI.",
     "No Stable Video Diffusion checkpoints found. Please download & place them in the ComfyUI/models/svd folder, and "
     "restart ComfyUI."),
    # 039 line 391
    ("An error happened while trying to locate the file on the Hub and we cannot find the requested files in the local "
     "cache. Please check your connection and try again or make sure your Internet connection is on.",
     "Please check your connection and try again or make sure your Internet connection is on."),
])
def test_the_sentence_that_says_what_to_do_is_found(message: str, hint: str) -> None:
    assert own_hint(message) == hint


@pytest.mark.parametrize("message", [
    # 047 line 107: a guess at the cause, no instruction
    "Failed to import DPMSolverMultistepScheduler from /root/comfy/ComfyUI/custom_nodes/VibeVoice-ComfyUI/vvembed/"
    "schedule. There might be a conflict with another Python package. Original error: No module named 'diffusers'",
    # 010 line 106, 043 line 65: Python's own suggestions about a name, not a fix
    "requests.exceptions.MissingSchema: Invalid URL '': No scheme supplied. Perhaps you meant https://?",
    "AttributeError: module 'torch.utils._pytree' has no attribute 'register_pytree_node'. Did you mean: "
    "'_register_pytree_node'?",
    "Expected all tensors to be on the same device, but got mat2 is on cpu, different from other tensors on cuda:0 "
    "(when checking argument in method wrapper_CUDA_mm)",
])
def test_a_message_without_an_instruction_has_no_hint(message: str) -> None:
    assert own_hint(message) is None


def test_a_version_requirement_gets_the_pip_command_that_meets_it() -> None:
    advice = own_words_advice("VibeVoice embedded module import failed. Please ensure the vvembed folder exists and "
                              "transformers>=4.51.3 is installed.", "The error from `VibeVoice-ComfyUI`")
    assert advice == ("The error from `VibeVoice-ComfyUI` says what to do: “Please ensure the vvembed folder exists "
                      "and transformers>=4.51.3 is installed.”: `python -m pip install \"transformers>=4.51.3\"` with "
                      "the Python ComfyUI runs")
    plain = own_words_advice('Please use "fp4" quantization for Blackwell GPUs.')
    assert plain == 'The error says what to do: “Please use "fp4" quantization for Blackwell GPUs.”'



# 047 lines 94 and 100: the node's generic words over a chain that began with `No module named 'diffusers'`
VIBEVOICE = ("Error generating multi-speaker speech: Model loading failed: VibeVoice embedded module import failed. "
             "Please ensure the vvembed folder exists and transformers>=4.51.3 is installed.")


def test_own_words_naming_another_package_than_the_missing_root_module_are_not_quoted() -> None:
    assert own_words_advice(VIBEVOICE) is not None  # no chain known: the node's words are all there is
    assert own_words_advice(VIBEVOICE, root_module="diffusers") is None
    # the words name the package the chain misses (under its pip name or its module's): they are quoted
    assert own_words_advice(VIBEVOICE, root_module="transformers.models.qwen2") is not None
    assert own_words_advice("Please run pip install scikit-image to use the hand model.", root_module="skimage")
    assert own_words_advice("Please run pip install -U Scikit_Image.", root_module="skimage")
    # words that name no package contradict nothing
    assert own_words_advice("Please ensure the vvembed folder exists.", root_module="diffusers") is not None
