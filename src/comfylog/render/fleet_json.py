"""The fleet summary (``comfylog analyze DIR --format json``) as JSON: apart from the terminal's tables, so that a
fleet written as JSON does not import rich (~25 ms of a fleet's one process, before and after its workers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from itertools import compress
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from operator import not_
from typing import Any

from ..fleet import QUANTITIES, FleetSummary
from ..rows import SCHEMA_VERSION


def fleet_to_dict(fleet: FleetSummary) -> dict[str, Any]:
    """The fleet summary as JSON-ready data (schema in the README, "Many logs at once")."""
    t = fleet.totals
    return {
        "schema_version": SCHEMA_VERSION,
        "fleet": True,
        "logs": [
            {
                "path": log.path,
                "gpu": log.gpu,
                "total_vram_mb": log.total_vram_mb,
                "runs": log.runs,
                "restarts": log.restarts,
                "prompts": log.prompts,
                "timed_prompts": len(log.prompt_seconds),
                "finished": log.finished,
                "errors": log.errors,
                "estimated": log.estimated,
                "waits": log.waits,
                **{f"{q}_p50": _round(log.median(q)) for q in QUANTITIES},
                **{f"{q}_p95": _round(log.p95(q)) for q in QUANTITIES},
                # how many of the timed prompts each percentile is of (fewer than timed_prompts: the rest not known)
                **{f"{q}_prompts": log.timed(q) for q in QUANTITIES[1:]},
                "findings": [f.id for f in log.findings],
            }
            for log in fleet.usable
        ],
        "unusable": [{"path": log.path, "reason": log.unusable} for log in fleet.unusable],
        "totals": {
            "logs": t.logs,
            "unusable": t.unusable,
            "runs": t.runs,
            "restarts": t.restarts,
            "prompts": t.prompts,
            "timed_prompts": t.timed_prompts,
            "finished": t.finished,
            "errors": t.errors,
            "seconds": {q: round(v, 3) for q, v in t.seconds.items()},
            "timed": t.timed,
        },
        "percentiles": {q: {name: _round(v) for name, v in row.items()} for q, row in fleet.percentiles.items()},
        "common_findings": [
            {"id": c.id, "severity": c.severity, "logs": c.logs, "cost_s": round(c.cost_s, 3),
             "example_title": c.title, "example_path": c.example_path}
            for c in fleet.common_findings
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def render_fleet_json(fleet: FleetSummary) -> str:
    return dumps_indented(fleet_to_dict(fleet))


#: Values json's C encoder writes alone, one line each: the JSON scalars, by exact type (a subclass, an enum,
#: goes through json.dumps itself).
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))


@cache
def _encoder(separator: str) -> Callable[[Any], str] | None:
    """json's C encoder of a list or dict of scalars, its items joined by ``separator`` (None without the
    C accelerator)."""
    if c_make_encoder is None:
        return None
    default = json.JSONEncoder().default  # raises the TypeError json.dumps would
    iterencode = c_make_encoder(None, default, encode_basestring, None, ": ", separator, False, False, True)
    return lambda value: "".join(iterencode(value, 0))


def dumps_indented(data: Any) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False)``, the same text, several times faster: with ``indent``
    json writes through its pure-Python encoder, a generator step per value, and a fleet of 1,000 logs has
    ~35,000 values (~20 ms of its one process, after its workers). Here each run of scalars in a dict or list
    is written by json's C encoder at once, joined by its line's indent."""
    return _text(data, "\n")


def _text(value: Any, newline: str) -> str:
    """``value`` as JSON, its inner lines after ``newline`` (a newline and the indent of its own line)."""
    kind = type(value)
    inner = newline + "  "
    encode = _encoder("," + inner)
    if (kind is not dict and kind is not list) or encode is None:
        return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)
    if not value:
        return "{}" if kind is dict else "[]"
    items = list(value.items()) if kind is dict else None
    values = list(value.values()) if kind is dict else value
    # where the values that are no scalar stand, found in C (a fleet's rows have ~30 values each)
    nested = compress(range(len(values)), map(not_, map(_SCALAR_TYPES.__contains__, map(type, values))))
    parts: list[str] = []
    start = 0
    for end in (*nested, len(values)):
        if end > start:  # a run of scalars: "{...}" or "[...]" with its items already joined
            parts.append(encode(dict(items[start:end]) if items is not None else values[start:end])[1:-1])
        if end < len(values):
            inside = _text(values[end], inner)
            if items is None:
                parts.append(inside)
            elif type(items[end][0]) is str:
                parts.append(f"{encode_basestring(items[end][0])}: {inside}")
            else:  # a key json writes as text (a number, true): its spelling is json's
                return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", newline)
        start = end + 1
    opening, closing = ("{", "}") if kind is dict else ("[", "]")
    return opening + inner + ("," + inner).join(parts) + newline + closing
