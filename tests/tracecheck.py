"""A structural checker for Trace Event Format files, written from the format's specification.

Perfetto's trace processor cannot run offline here (it downloads its shell binary), so the tests
check what the spec and Perfetto's importer require instead (/work/research notes, part B):
- the container: an array, or an object with ``traceEvents`` (``displayTimeUnit`` ms or ns);
- required fields per phase: ``name ph ts pid`` everywhere, ``tid`` for thread events, ``dur`` >= 0
  for ``X``, a known ``name`` and its ``args`` key for ``M``, ``s`` in g/p/t for instants, numeric
  ``args`` for counters;
- B/E pairs that close, E after its B;
- strict nesting of X and B/E slices per thread (Perfetto drops or misdraws overlapping ones);
- comfylog's own promises: timestamps and durations are integer microseconds, and each thread's
  (and each counter's) events come in time order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

META_ARG = {"process_name": "name", "thread_name": "name", "process_labels": "labels",
            "process_sort_index": "sort_index", "thread_sort_index": "sort_index"}
PHASES = set("BEXiICMbnestfPNODVvRc()")
THREAD_PHASES = set("BEXiI")


def check_trace(doc: Any) -> list[str]:
    """Every way ``doc`` (parsed JSON) breaks the rules above; empty when it keeps them all."""
    errors: list[str] = []
    if isinstance(doc, list):
        events = doc
    elif isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        events = doc["traceEvents"]
        if doc.get("displayTimeUnit", "ms") not in ("ms", "ns"):
            errors.append("displayTimeUnit must be ms or ns")
    else:
        return ["the top level must be an array or an object with traceEvents"]
    slices: dict[tuple[Any, Any], list[tuple[int, int, int]]] = defaultdict(list)
    open_b: dict[tuple[Any, Any], list[tuple[int, int]]] = defaultdict(list)
    last_ts: dict[tuple[Any, ...], int] = {}
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            errors.append(f"event {i}: not an object")
            continue
        ph = e.get("ph")

        def bad(message: str, i: int = i, e: dict[str, Any] = e, ph: Any = ph) -> None:
            errors.append(f"event {i} ({ph} {e.get('name')!r}): {message}")

        if ph not in PHASES:
            bad("unknown ph")
            continue
        if ph == "M":
            key = META_ARG.get(e.get("name", ""))
            if key is None:
                bad("unknown metadata name")
            elif not isinstance(e.get("args"), dict) or key not in e["args"]:
                bad(f"args.{key} missing")
            if not isinstance(e.get("pid"), int):
                bad("pid missing or not an integer")
            if str(e.get("name")).startswith("thread_") and not isinstance(e.get("tid"), int):
                bad("tid missing or not an integer")
            continue
        for key in ("name", "ts", "pid"):
            if key not in e:
                bad(f"{key} missing")
        ts = e.get("ts")
        if not isinstance(ts, int) or isinstance(ts, bool):
            bad("ts must be integer microseconds")
            continue
        if not isinstance(e.get("pid"), int):
            bad("pid must be an integer")
        if ph in THREAD_PHASES and (ph not in "iI" or e.get("s", "t") == "t") and not isinstance(e.get("tid"), int):
            bad("tid missing or not an integer")
        track = (e.get("pid"), e.get("tid")) if ph != "C" else (e.get("pid"), "counter", e.get("name"))
        if track in last_ts and ts < last_ts[track]:
            bad(f"ts {ts} goes back in time on {track} (last {last_ts[track]})")
        last_ts[track] = ts
        key2 = (e.get("pid"), e.get("tid"))
        if ph == "X":
            dur = e.get("dur")
            if not isinstance(dur, int) or isinstance(dur, bool) or dur < 0:
                bad("X needs an integer dur >= 0 (microseconds)")
                continue
            slices[key2].append((ts, ts + dur, i))
        elif ph == "B":
            open_b[key2].append((ts, i))
        elif ph == "E":
            if not open_b[key2]:
                bad("E without an open B")
                continue
            begin, bi = open_b[key2].pop()
            if ts < begin:
                bad("E before its B")
            slices[key2].append((begin, ts, bi))
        elif ph in "iI":
            if e.get("s", "t") not in ("g", "p", "t"):
                bad("s must be g, p or t")
        elif ph == "C":
            args = e.get("args")
            if not isinstance(args, dict) or not args or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in args.values()
            ):
                bad("C needs args with numeric values")
    for key, pending in open_b.items():
        errors += [f"event {i}: B never closed on {key}" for _, i in pending]
    for key, found in slices.items():
        found.sort(key=lambda s: (s[0], -s[1]))
        stack: list[tuple[int, int, int]] = []
        for start, end, i in found:
            while stack and stack[-1][1] <= start:
                stack.pop()
            if stack and end > stack[-1][1]:
                errors.append(f"event {i} overlaps event {stack[-1][2]} on {key} (slices must nest)")
            stack.append((start, end, i))
    return errors
