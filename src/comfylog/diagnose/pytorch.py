"""Code that does not fit the installed PyTorch, as its errors show it: a function that PyTorch lacks
(``module 'torch.compiler' has no attribute 'is_compiling'``), or a compiled extension built against
another PyTorch (``flash_attn_2_cuda....so: undefined symbol: _ZN3c104cuda9SetDeviceEi``).

Rules that meet such an error (a prompt's exception, a failed start-up, a failed import) read it here,
so they all name the same function, extension and version the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..dataclass import dataclass
from ..lazyre import lazy_re
from ..model import Run
from .engine import Advice
from .packages import package_of, site_package

ADVICE_TORCH_API = Advice("{caller} calls `{name}`, which PyTorch {have} does not have: the installed PyTorch is "
                          "{older} than that code needs. {fix}",
                          {"caller": "The code", "name": "torch.X", "have": "the installed version",
                           "older": "older (or newer)", "fix": "Install the PyTorch it was written for"})
ADVICE_EXTENSION = Advice("Reinstall `{package}` built for the installed PyTorch{have} (a wheel made for that "
                          "PyTorch and CUDA, or built from source against it), or uninstall it (`python -m pip "
                          "uninstall {package}`) if nothing needs it", {"package": "the extension's package",
                                                                       "have": " VERSION"})
#: ``module 'torch.compiler' has no attribute 'is_compiling'``, ``cannot import name 'X' from 'torch.Y'``: code
#: written for another PyTorch than the one installed.
TORCH_API = lazy_re(r"module '(?P<module>torch(?:\.\w+)*)' has no attribute '(?P<name>\w+)'"
                       r"|cannot import name '(?P<imported>\w+)' from '(?P<source>torch(?:\.\w+)*)'")
#: The CUDA error of code with no kernels for the GPU it runs on (a PyTorch or an extension built for other GPUs).
NO_KERNEL_IMAGE = "no kernel image is available for execution on the device"
#: PyTorch's prefix for an error the CUDA runtime returned (c10/cuda/CUDAException): only code on a CUDA GPU gets one,
#: except the runtime's errors for no usable device (cudaErrorNoDevice, cudaErrorInsufficientDriver).
CUDA_ERROR = "CUDA error: "
NO_DEVICE_CUDA_ERRORS = ("no CUDA-capable device is detected", "CUDA driver version is insufficient")


def reached_a_gpu(message: str) -> bool:
    """A CUDA error of code that ran on a CUDA GPU: PyTorch sees one (its own failure may be anything)."""
    return CUDA_ERROR in message and not any(e in message for e in NO_DEVICE_CUDA_ERRORS)


#: Frames of torch's own module machinery, which only pass a call on.
TORCH_FRAMES = ("module.py:", "functional.py:")
#: How a compiled extension fails to load (Windows, Linux): built for another PyTorch, CUDA or Python.
LOAD_FAILURES = ("DLL load failed", "undefined symbol")
#: ``PATH.so: undefined symbol: NAME``: the extension's file and the symbol it lacks.
#: (The path starts after a delimiter, never inside one: linear on hostile text.)
UNDEFINED_SYMBOL_RE = lazy_re(r"(?<![^\s:'\"])(?P<path>[^\s:'\"]+\.(?:so|pyd)(?:\.[\d.]+)?): undefined symbol: "
                                 r"(?P<symbol>\S+)")
#: A C++ symbol of PyTorch's own libraries (Itanium-mangled ``c10::``, ``at::``, ``torch::``): an extension
#: that lacks one was built against another PyTorch than the one it meets.
TORCH_SYMBOL_RE = lazy_re(r"^_ZNK?(?:3c10|2at|5torch)\d")
#: ``DLL load failed while importing _C``.
DLL_MODULE_RE = lazy_re(r"DLL load failed while importing (?P<module>\w+)")
#: The most parts of a C++ name read from a symbol.
MAX_NAME_PARTS = 8
#: A compiled module's suffix after its package's name (``flash_attn_2_cuda``: ``flash_attn``).
EXTENSION_SUFFIX_RE = lazy_re(r"(?:_\d+)?_(?:cuda|C|ext|kernels?)$")


@dataclass(frozen=True)
class ExtensionFailure:
    """A compiled extension that did not load: its module, the package it belongs to (when the error shows
    it), and the PyTorch symbol it lacks (then it was built against another PyTorch)."""

    module: str
    package: str | None
    torch_symbol: str | None


def extension_failure(message: str) -> ExtensionFailure | None:
    """What an import error says of a compiled extension that did not load, or None for other errors."""
    m = UNDEFINED_SYMBOL_RE.search(message)
    if m is not None:
        module = re.split(r"[/\\]", m["path"])[-1].split(".", 1)[0]
        package = site_package(m["path"]) or EXTENSION_SUFFIX_RE.sub("", module) or module
        symbol = m["symbol"] if TORCH_SYMBOL_RE.match(m["symbol"]) else None
        return ExtensionFailure(module, package, symbol)
    dll = DLL_MODULE_RE.search(message)
    if dll is not None:
        return ExtensionFailure(dll["module"], None, None)
    return None


def demangled(symbol: str) -> str | None:
    """``c10::cuda::SetDevice`` of ``_ZN3c104cuda9SetDeviceEi`` (an Itanium-mangled nested name, arguments
    left out), or None when it is not that simple form."""
    m = re.match(r"_ZNK?", symbol)
    if m is None:
        return None
    parts: list[str] = []
    at = m.end()
    while at < len(symbol) and symbol[at].isdigit() and len(parts) < MAX_NAME_PARTS:
        digits = re.match(r"\d+", symbol[at:])
        assert digits is not None
        size, at = int(digits.group()), at + digits.end()
        if size == 0 or at + size > len(symbol):
            return None
        parts.append(symbol[at:at + size])
        at += size
    return "::".join(parts) if len(parts) > 1 and symbol[at:at + 1] == "E" else None


def innermost_caller(frames: list[str]) -> str | None:
    """The innermost frame (``FILE:FUNCTION``) that is not torch's module machinery passing a call on."""
    return next((f for f in reversed(frames) if not f.startswith(TORCH_FRAMES)), None)


def caller_owner(fields: Mapping[str, object]) -> str | None:
    """The library whose code a traceback's innermost caller (innermost_caller) is, from the traceback's
    ``frame_owners`` (the package under site-packages, ``transformers``); None for a custom node's file,
    ComfyUI's own or one the path does not place."""
    frames, owners = fields.get("frames"), fields.get("frame_owners")
    if not isinstance(frames, list) or not isinstance(owners, list) or len(owners) != len(frames):
        return None
    at = next((i for i in reversed(range(len(frames))) if not str(frames[i]).startswith(TORCH_FRAMES)), None)
    owner = str(owners[at]) if at is not None else ""
    return owner if owner and not owner.startswith("custom_nodes/") else None


def torch_api_advice(message: str, run: Run | None, node: str | None = None, frame: str | None = None,
                     library: str | None = None) -> str | None:
    """Advice for code that uses a PyTorch function the installed PyTorch lacks: which code (a custom node, a
    ``library`` its frame's path names, ComfyUI), which version."""
    m = TORCH_API.search(message)
    if m is None:
        return None
    name = f"{m['module']}.{m['name']}" if m["module"] else f"{m['source']}.{m['imported']}"
    have = run.pytorch_version if run is not None and run.pytorch_version else None
    where = f" (`{frame}`)" if frame else ""
    if library:
        # 043: transformers' utils/generic.py, imported on ComfyUI's start-up, calls a function PyTorch 2.1 lacks:
        # a newer PyTorch, or a release of the library that still supports this one
        used = f", which the custom node `{node}` uses," if node else ""
        caller = f"The library `{library}`{where}{used}"
        fix = (f"It is `{library}`'s code, not ComfyUI's: install a newer PyTorch build for the same CUDA "
               f"(pytorch.org's selector gives the command), or a release of `{package_of(library)}` that supports "
               f"{'PyTorch ' + have if have else 'the installed PyTorch'}")
    elif node:
        caller = f"The custom node `{node}`{where}"
        fix = (f"Update `{node}`, or install the PyTorch version its requirements name; if it needs a newer "
               "PyTorch than ComfyUI's, a newer PyTorch build for the same CUDA (pytorch.org's selector gives the "
               "command)")
    else:
        comfy = f"ComfyUI {run.comfyui_text()}" if run is not None and run.comfyui_version else "ComfyUI"
        caller = f"The code that failed{where}"
        fix = (f"The code is {comfy}'s or a library's it uses: install a newer PyTorch build for the same CUDA "
               "(pytorch.org's selector gives the command), or use an image whose PyTorch matches this ComfyUI")
    return ADVICE_TORCH_API(caller=caller, name=name, have=have or "(version not in the log)",
                            older="probably older", fix=fix)
