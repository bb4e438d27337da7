"""Missing Python modules and the pip packages that bring them: what `No module named 'X'` asks to install."""

from __future__ import annotations

import re

#: Modules whose pip package has another name (``No module named 'skimage'``: ``scikit-image``).
PACKAGES = {"skimage": "scikit-image", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml",
            "sklearn": "scikit-learn", "google.protobuf": "protobuf", "dateutil": "python-dateutil",
            "attr": "attrs", "Crypto": "pycryptodome", "git": "GitPython", "fitz": "pymupdf",
            "websocket": "websocket-client"}


#: Where pip installs packages.
SITE_DIRS = ("site-packages", "dist-packages")


def site_package(path: str) -> str | None:
    """The installed package a file is in: the folder under the last site-packages / dist-packages of its path
    (``.../dist-packages/sageattention/core.py``: ``sageattention``); None outside them or for a file right in it."""
    parts = re.split(r"[/\\]", path)
    site = max((i for i, part in enumerate(parts) if part in SITE_DIRS), default=None)
    return parts[site + 1] if site is not None and site + 2 < len(parts) else None


def missing_module(message: str) -> str | None:
    """``No module named 'x.y'``: ``x.y``."""
    if "No module named '" not in message:
        return None
    return message.split("No module named '", 1)[1].split("'", 1)[0] or None


def package_of(module: str) -> str:
    """The pip package of a module (``skimage``: ``scikit-image``)."""
    return PACKAGES.get(module, PACKAGES.get(module.split(".")[0], module))
