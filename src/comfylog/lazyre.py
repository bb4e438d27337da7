"""Regexes compiled on first use.

A small log's analysis runs a few dozen of comfylog's regexes: the rest read what that log does not
hold (a redaction rule, another log format's prefix, an exception's advice), and compiling every one
as its module was imported cost ~30 ms of each start-up (issue 14). ``lazy_re(...)`` stands where
``re.compile(...)`` stood.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

#: What a LazyRegex hands on from its compiled pattern.
_PATTERN_ATTRIBUTES = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split",
                       "groupindex", "groups")


class LazyRegex:
    """``re.compile(pattern, flags)``, made the first time one of its methods is asked for; from then on
    those are the compiled pattern's own, with nothing in between (the Python reader calls some of them
    on every line)."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    if TYPE_CHECKING:  # what mypy sees: the compiled pattern's methods
        def search(self, string: str, pos: int = 0, endpos: int = ...) -> re.Match[str] | None: ...
        def match(self, string: str, pos: int = 0, endpos: int = ...) -> re.Match[str] | None: ...
        def fullmatch(self, string: str, pos: int = 0, endpos: int = ...) -> re.Match[str] | None: ...
        def finditer(self, string: str, pos: int = 0, endpos: int = ...) -> Iterator[re.Match[str]]: ...
        def findall(self, string: str, pos: int = 0, endpos: int = ...) -> list[Any]: ...
        def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str: ...
        def subn(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> tuple[str, int]: ...
        def split(self, string: str, maxsplit: int = 0) -> list[str | Any]: ...
        groupindex: Mapping[str, int]
        groups: int
    else:
        def __getattr__(self, name: str) -> Any:
            """Reached only before the pattern is compiled: once it is, its methods are this object's."""
            if name not in _PATTERN_ATTRIBUTES:
                raise AttributeError(name)
            compiled = re.compile(self.pattern, self.flags)
            for attribute in _PATTERN_ATTRIBUTES:
                self.__dict__[attribute] = getattr(compiled, attribute)
            return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy_re({self.pattern!r})"


def lazy_re(pattern: str, flags: int = 0) -> LazyRegex:
    """``re.compile(pattern, flags)``, compiled when first used."""
    return LazyRegex(pattern, flags)
