"""In-tree PEP 517/660 build backend for comfylog.

Delegates every hook to ``maturin`` (Rust extension ``comfylog._native``) when a
working Rust toolchain is available, and to ``setuptools.build_meta`` (pure
Python wheel) otherwise.

Selection, per hook call (pip runs every hook in a fresh subprocess):

    COMFYLOG_BUILD=auto    (default) native if ``cargo --version`` works, else pure.
                           If the native build itself fails (e.g. a too-old rustc),
                           warn loudly and fall back to the pure build.
    COMFYLOG_BUILD=native  require the native build; fail if cargo is missing or
                           the Rust build fails (CI, release jobs, make on a machine with cargo).
    COMFYLOG_BUILD=python  always build the pure-Python wheel.

``maturin`` is *not* a static build requirement: ``get_requires_for_build_*``
asks for it only when the native path is chosen, so a machine without Rust
never has to install (or, on exotic platforms, compile!) maturin.

This module must import with nothing but the stdlib and setuptools available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

MATURIN_REQUIREMENT = "maturin>=1.9.4,<2"  # 1.9.4+: sets PYO3_BUILD_EXTENSION_MODULE
_ENV = "COMFYLOG_BUILD"

# maturin's own backend would otherwise pip-install "puccinialin" and download a
# Rust toolchain from the internet when cargo is missing. Never do that.
os.environ.setdefault("MATURIN_NO_INSTALL_RUST", "1")

_native_ok_cache: bool | None = None


def _log(msg: str) -> None:
    print(f"[comfylog build backend] {msg}", file=sys.stderr, flush=True)


def _mode() -> str:
    mode = os.environ.get(_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "native", "python"):
        raise RuntimeError(f"{_ENV} must be auto, native or python; got {mode!r}")
    return mode


def _toolchain_works() -> bool:
    """True if `cargo` is on PATH *and* runs (a rustup proxy without an installed
    toolchain is on PATH but fails)."""
    cargo = shutil.which("cargo")
    if cargo is None:
        return False
    try:
        proc = subprocess.run(
            [cargo, "--version"],
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and b"cargo" in proc.stdout


def _use_native() -> bool:
    global _native_ok_cache
    mode = _mode()
    if mode == "python":
        _log(f"{_ENV}=python: building pure-Python wheel (setuptools)")
        return False
    if _native_ok_cache is None:
        _native_ok_cache = _toolchain_works()
    if _native_ok_cache:
        _log("Rust toolchain found: building with maturin (comfylog._native)")
        return True
    if mode == "native":
        raise RuntimeError(
            f"{_ENV}=native but no working Rust toolchain (cargo) was found on PATH"
        )
    _log("no working Rust toolchain found: building pure-Python wheel (setuptools)")
    return False


def _refresh_mtimes_for_shared_target_dir() -> None:
    """Cargo decides freshness of the *local* crate by file mtimes. With a shared
    CARGO_TARGET_DIR, building a freshly unpacked sdist (whose files carry the
    archive's old mtimes) can silently reuse a stale _native from another source
    tree. When building from an unpacked sdist (PKG-INFO at the root) with a
    shared target dir, bump the crate's mtimes so only the local crate rebuilds;
    dependencies (pyo3, regex, ...) are still reused from the cache."""
    if not os.environ.get("CARGO_TARGET_DIR") or not os.path.exists("PKG-INFO"):
        return
    for root, _dirs, files in os.walk("native"):
        if os.path.basename(root) == "target":
            continue
        for name in files:
            if name.endswith((".rs", ".toml", ".lock")):
                os.utime(os.path.join(root, name))


def _maturin():
    import maturin  # installed into the build env via get_requires_for_build_*

    # maturin >= 1.9.4 sets this itself; harmless for older versions (no
    # libpython linking, correct macOS link args).
    os.environ.setdefault("PYO3_BUILD_EXTENSION_MODULE", "1")
    _refresh_mtimes_for_shared_target_dir()
    return maturin


def _setuptools():
    from setuptools import build_meta

    return build_meta


def _native_or_fallback(hook: str, *args: Any, **kwargs: Any) -> Any:
    """Run maturin's `hook`; in auto mode fall back to setuptools on failure."""
    if _use_native():
        try:
            return getattr(_maturin(), hook)(*args, **kwargs)
        except (Exception, SystemExit) as exc:  # maturin's hooks sys.exit(1) on error
            if _mode() == "native":
                raise
            _log("")
            _log("!" * 70)
            _log(f"native build ({hook}) FAILED: {exc!r}")
            _log(f"falling back to the pure-Python build; set {_ENV}=native to make")
            _log("this an error instead.")
            _log("!" * 70)
    return getattr(_setuptools(), hook)(*args, **kwargs)


# --------------------------------------------------------------------------
# PEP 517 mandatory hooks
# --------------------------------------------------------------------------
def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    return _native_or_fallback(
        "build_wheel", wheel_directory, config_settings, metadata_directory
    )


def build_sdist(
    sdist_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    # Both backends produce an sdist that carries src/, native/ and this backend
    # (see [tool.maturin] include and MANIFEST.in); prefer maturin's when possible.
    return _native_or_fallback("build_sdist", sdist_directory, config_settings)


# --------------------------------------------------------------------------
# PEP 517 / 660 optional hooks
# --------------------------------------------------------------------------
def get_requires_for_build_wheel(
    config_settings: Mapping[str, Any] | None = None,
) -> list[str]:
    if _use_native():
        return [MATURIN_REQUIREMENT]
    return _setuptools().get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(
    config_settings: Mapping[str, Any] | None = None,
) -> list[str]:
    if _use_native():
        return [MATURIN_REQUIREMENT]
    return _setuptools().get_requires_for_build_sdist(config_settings)


def get_requires_for_build_editable(
    config_settings: Mapping[str, Any] | None = None,
) -> list[str]:
    if _use_native():
        return [MATURIN_REQUIREMENT]
    return _setuptools().get_requires_for_build_editable(config_settings)


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    return _native_or_fallback(
        "prepare_metadata_for_build_wheel", metadata_directory, config_settings
    )


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    # maturin has no separate editable-metadata hook: its editable wheel carries
    # the same METADATA as the regular one.
    if _use_native():
        try:
            return _maturin().prepare_metadata_for_build_wheel(
                metadata_directory, config_settings
            )
        except (Exception, SystemExit) as exc:
            if _mode() == "native":
                raise
            _log(f"native metadata failed ({exc!r}); falling back to setuptools")
    return _setuptools().prepare_metadata_for_build_editable(
        metadata_directory, config_settings
    )


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    return _native_or_fallback(
        "build_editable", wheel_directory, config_settings, metadata_directory
    )
