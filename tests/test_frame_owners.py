"""A traceback keeps, beside each frame's base name, whose code the frame is: the library under
site-packages / dist-packages, or the custom node under custom_nodes. A base name alone
(``generic.py``) cannot tell ComfyUI's code from a library's, so advice had to say "ComfyUI's or a
library's" where the path named transformers (043). Both scanners keep the same owners.
"""

from __future__ import annotations

import pytest

from comfylog.api import analyze
from comfylog.events import EventKind
from comfylog.model import Report
from comfylog.parse.native import native_module

from .conftest import corpus_log

SCANNERS = ["python", pytest.param("native", marks=pytest.mark.skipif(
    native_module() is None, reason="comfylog was installed without the native scanner"))]


def _report(prefix: str, scanner: str, monkeypatch: pytest.MonkeyPatch) -> Report:
    monkeypatch.setenv("COMFYLOG_SCANNER", scanner)
    return analyze(corpus_log(prefix))


def _owned(report: Report, exception_type: str) -> list[tuple[str, str]]:
    """The frames and owners of the report's last traceback that ended in ``exception_type``."""
    tb = [ev for ev in report.notable if ev.kind is EventKind.TRACEBACK
          and ev.fields.get("exception_type") == exception_type][-1]
    frames, owners = tb.fields["frames"], tb.fields["frame_owners"]
    assert len(frames) == len(owners)
    return list(zip(frames, owners, strict=True))


@pytest.mark.parametrize("scanner", SCANNERS)
def test_a_library_frame_names_its_package(scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    owned = _owned(_report("043", scanner, monkeypatch), "AttributeError")
    # 043 lines 726-765: /comfyui/main.py, ComfyUI's own files, then torch, torchvision and transformers under
    # /usr/local/lib/python3.10/dist-packages
    assert owned[0] == ("main.py:<module>", "")
    assert ("sd.py:<module>", "") in owned
    assert owned[-1] == ("generic.py:<module>", "transformers")
    assert {owner for _, owner in owned} == {"", "torch", "torchvision", "transformers"}


@pytest.mark.parametrize("scanner", SCANNERS)
def test_windows_frames_name_the_custom_node_and_the_library(scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 008 lines 174-230: Impact Pack's frames under ComfyUI\custom_nodes, then ultralytics under python_embeded's
    # Lib\site-packages
    owned = dict(_owned(_report("008", scanner, monkeypatch), "RuntimeError"))
    assert owned["impact_pack.py:enhance_face"] == "custom_nodes/ComfyUI-Impact-Pack"
    assert owned["predictor.py:setup_model"] == "ultralytics"
    assert owned["_contextlib.py:decorate_context"] == "torch"


@pytest.mark.parametrize("scanner", SCANNERS)
def test_the_pytorch_advice_names_the_library(scanner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    finding = next(f for f in _report("043", scanner, monkeypatch).findings if f.id == "startup-failed")
    assert finding.title.endswith("AttributeError in `generic.py` of the library `transformers`, imported by "
                                  "ComfyUI's main.py")
    torch_api = next(a for a in finding.advice if "register_pytree_node" in a)
    assert torch_api.startswith("The library `transformers` (`generic.py:<module>`) calls "
                                "`torch.utils._pytree.register_pytree_node`, which PyTorch 2.1.2+cu121 does not have")
    assert "It is `transformers`'s code, not ComfyUI's" in torch_api
    assert "ComfyUI's or a library's" not in torch_api
