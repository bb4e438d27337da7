"""Which scanner reads logs and which segmenter segments them (``COMFYLOG_SCANNER``, ``COMFYLOG_SEGMENTER``,
and whether the native module is installed): what ``comfylog --version`` names, here apart from the scanner
and the segmenter themselves, whose import (the message table, the records) ``--version`` does not need
(~130 M instructions, issue 14). parse/native.py and segment/native.py use and re-export these."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from .read.source import UnusableInput

SCANNER_ENV = "COMFYLOG_SCANNER"
SCANNERS = ("native", "python")
SEGMENTER_ENV = "COMFYLOG_SEGMENTER"
SEGMENTERS = ("native", "python")


class ScannerUnavailable(UnusableInput):
    """``COMFYLOG_SCANNER`` asks for a scanner this installation does not have (or names none)."""


class SegmenterUnavailable(UnusableInput):
    """``COMFYLOG_SEGMENTER`` names no segmenter."""


_loaded: dict[str, ModuleType | None] = {}
_loaded_error: dict[str, str] = {}


def native_module() -> ModuleType | None:
    """``comfylog._native`` if it is installed and imports, else None (imported once)."""
    if "module" not in _loaded:
        try:
            _loaded["module"] = importlib.import_module("comfylog._native")
        except ImportError as exc:
            _loaded["module"] = None
            _loaded_error["error"] = str(exc)
    return _loaded["module"]


def scanner() -> str:
    """``native`` or ``python``: the scanner that reads logs now (``COMFYLOG_SCANNER``, else the
    native one when installed). Raises ScannerUnavailable for a choice that cannot be had."""
    choice = os.environ.get(SCANNER_ENV, "").strip().lower()
    if choice == "python":
        return "python"
    if choice not in ("", "native"):
        raise ScannerUnavailable(f"{SCANNER_ENV}={choice}: the scanner is native or python")
    if native_module() is not None:
        return "native"
    if choice == "native":
        raise ScannerUnavailable(
            f"{SCANNER_ENV}=native, but this comfylog has no native scanner ({_loaded_error.get('error')}): "
            "it was installed without a Rust toolchain; reinstall with cargo on PATH "
            "(pip install --force-reinstall --no-cache-dir --no-binary comfylog comfylog), or unset "
            f"{SCANNER_ENV}"
        )
    return "python"


def segmenter() -> str:
    """``native`` or ``python``: the segmenter asked for the inputs the native scanner reads
    (``COMFYLOG_SEGMENTER``; unset: native). Raises SegmenterUnavailable for another name."""
    choice = os.environ.get(SEGMENTER_ENV, "").strip().lower()
    if choice in ("", "native"):
        return "native"
    if choice == "python":
        return "python"
    raise SegmenterUnavailable(f"{SEGMENTER_ENV}={choice}: the segmenter is native or python")


def segmenter_in_use() -> str:
    """``native`` or ``python``: the segmenter a log file is segmented by now (what ``--version``
    names): the one asked for where the native scanner reads, else Python's."""
    asked = segmenter()  # a wrong name is an error whichever scanner reads
    return asked if scanner() == "native" else "python"
