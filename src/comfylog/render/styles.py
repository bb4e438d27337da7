"""Colours and marks every terminal renderer (rich) shares, so the phases look alike everywhere."""

from __future__ import annotations

from ..events import Phase

PHASE_STYLE = {
    "startup": "magenta",
    "idle": "grey50",
    Phase.LOAD.value: "yellow",
    Phase.INFERENCE.value: "green",
    Phase.WAIT.value: "red",
    Phase.OTHER.value: "blue",
    "untimed": "grey62",
    "outside": "cyan",
    "install": "bright_magenta",
}
PHASE_CHAR = {"startup": "s", "idle": "·", "load": "L", "inference": "I", "wait": "W", "other": "o", "untimed": "?",
              "outside": "x", "install": "+"}
STATUS_STYLE = {
    "ok": "green", "error": "red", "interrupted": "yellow", "invalid": "magenta", "unfinished": "red",
    "dropped": "grey50",
}
#: Names shown for the rows of "where the time went" that are not phase names.
PHASE_LABEL = {"untimed": "not timed", "outside": "outside prompts", "install": "installing"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
