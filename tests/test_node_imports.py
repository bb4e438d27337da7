"""A custom node that printed a traceback while the nodes loaded and loaded anyway (diagnose/node_imports.py).

The fixture is cut from the shared corpus's 025 (tests/fixtures/README.md): comfyui_controlnet_aux's own
``load_nodes`` caught its dwpose part failing (``No module named 'skimage'``) and the node is in the
import times without ``(IMPORT FAILED)``; ComfyUI_FizzNodes did fail to import.
"""

from __future__ import annotations

from comfylog.api import analyze, analyze_text
from comfylog.model import Finding, Report

from .conftest import FIXTURES, corpus_log

FIXTURE = FIXTURES / "node-loaded-in-part.log"
#: The node's two tracebacks (``Full error log from comfyui_controlnet_aux:`` to the second exception line).
TRACEBACK = (13, 51)


def by_id(report: Report) -> dict[str, Finding]:
    return {f.id: f for f in report.findings}


def test_a_part_of_a_node_failing_at_start_up_is_an_import_failure_not_an_exception() -> None:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    assert "0.1 seconds: " in lines[-2] and lines[-2].endswith("comfyui_controlnet_aux")  # it loaded
    found = by_id(analyze(FIXTURE))
    assert "exception" not in found
    imports = found["import-failed"]
    assert imports.severity == "warning"
    assert imports.title == "1 custom node failed to import; 1 more loaded only in part"
    assert imports.figures["partial"] == ["comfyui_controlnet_aux"]
    assert any(a.startswith("Install `scikit-image`") and "comfyui_controlnet_aux" in a for a in imports.advice)
    assert 31 in {e.line for e in imports.evidence} or 51 in {e.line for e in imports.evidence}


def test_the_same_traceback_once_the_server_runs_is_an_exception() -> None:
    """After the import times (a background task, a request to the server), it is no import failure."""
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    first, last = TRACEBACK
    moved = lines[:first - 1] + lines[last:] + lines[first - 1:last]
    found = by_id(analyze_text("\n".join(moved) + "\n"))
    assert "exception" in found and "skimage" in found["exception"].title
    assert "loaded only in part" not in found["import-failed"].title


def test_on_the_corpus_logs() -> None:
    found = by_id(analyze(corpus_log("025")))
    assert "exception" not in found
    assert found["import-failed"].title == "17 custom nodes failed to import; 1 more loaded only in part"
    found = by_id(analyze(corpus_log("048")))
    assert "exception" not in found
    assert found["import-failed"].title == "Custom node `comfyui_controlnet_aux` loaded only in part"


def test_a_dot_git_folder_in_custom_nodes_is_no_failed_node_pack() -> None:
    """sharosoo/comfyui's committed comfyui.log (tests/fixtures/README.md): ComfyUI tries every folder in
    custom_nodes, and `.git` (custom_nodes is a git checkout) fails for want of `__init__.py`. No node is missing,
    and the old advice to "re-install it or remove it" would have had the user delete a repository's history."""
    imports = by_id(analyze(FIXTURES / "dot-git-in-custom-nodes-import-failed.log"))["import-failed"]
    assert imports.severity == "info"
    assert imports.title == "ComfyUI tried `.git` in `custom_nodes` as a node pack: it is none"
    assert "No node pack failed, and no workflow misses a node." in imports.why
    assert "fail validation" not in imports.why
    assert imports.advice[0].startswith("Nothing to fix: `.git` is no node pack")
    assert not any("re-install it or remove it" in a or "remove the node" in a for a in imports.advice)
    assert [e.line for e in imports.evidence] == [30]


def test_a_load_library_failure_is_told_by_the_undefined_symbol_it_was_raised_from() -> None:
    """purple-ocean-ego/runpod-serverless-ops logs.txt (tests/fixtures/README.md): ComfyUI's audio nodes fail on
    torch.ops.load_library's `OSError: Could not load this library: …/libtorchaudio.so`, raised from the loader's
    `undefined symbol: _ZN3c104cuda29c10_cuda_check_implementation…`: a torchaudio of the system's dist-packages,
    built for another PyTorch, under the venv's PyTorch 2.11.0+cu130. ComfyUI's `Cannot import` line gives only
    the outer error, and the finding said to install ComfyUI's requirements."""
    imports = by_id(analyze(FIXTURES / "builtin-nodes-system-torchaudio-under-venv-torch.log"))["import-failed"]
    assert imports.title == "3 built-in node files failed to import: `torchaudio` does not fit PyTorch 2.11.0+cu130"
    assert "All 3 failed on the compiled extension `libtorchaudio` of `torchaudio`" in imports.why
    assert "(`c10::cuda::c10_cuda_check_implementation`)" in imports.why
    assert ("`torchaudio` was loaded from `/usr/local/lib/python3.12/dist-packages`, PyTorch from "
            "`/runpod-volume/venv/lib/python3.12/site-packages`") in imports.why
    assert imports.advice[0].startswith("Reinstall `torchaudio` built for the installed PyTorch 2.11.0+cu130")
    assert not any("requirements.txt" in a for a in imports.advice)
