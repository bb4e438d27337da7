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


def canonical(name: str) -> str:
    """A package name as pip compares them (PEP 503): ``Scikit_Image`` and ``scikit-image`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_packages(listing: str) -> dict[str, str]:
    """The packages of pip's `Successfully installed a-1 b-2` list (``NAME-VERSION`` each: the name may hold dashes,
    the version starts with a digit), by canonical name, with their versions. A scan of each item, not a regex: a
    searched lazy `name-digit` pattern is quadratic on a long item without one."""
    found = {}
    for item in listing.split():
        dash = item.find("-")
        while dash != -1 and not (dash > 0 and item[dash + 1:dash + 2].isdigit()):
            dash = item.find("-", dash + 1)
        if dash != -1:
            found[canonical(item[:dash])] = item[dash + 1:]
    return found
