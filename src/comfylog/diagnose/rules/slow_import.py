"""Custom nodes slow to import at start-up."""

from __future__ import annotations

from ...model import Finding, Run
from ...text import basename, dur, plural
from ..engine import Advice, finding, rule
from ..facts import Facts, run_group

#: A custom node importing this long (seconds) is reported as slow.
SLOW_IMPORT_S = 10.0


ADVICE_SLOW_NODE = Advice("A node this slow usually installs or downloads something at import: look at its lines "
                          "above `Import times for custom nodes`; update or remove it")
ADVICE_DRIVE = Advice("Copy ComfyUI with its custom nodes to the Colab machine's own disk (`/content/ComfyUI`) and "
                      "start it from there; keep only models or outputs on Google Drive if they must persist")
#: Where Colab mounts Google Drive: files there are read over the network, one round trip each.
DRIVE_MOUNT = "/content/drive/"
ADVICE_BAKE = Advice("In containers, bake its dependencies into the image so every start-up does not pay for them")


@run_group("slow_imports")
def _has_slow_import(run: Run) -> bool:
    return any(seconds >= SLOW_IMPORT_S and not failed for seconds, _, failed, _ in run.import_times)


@rule(
    "slow-import", "info", None,
    trigger=f"A custom node that took {SLOW_IMPORT_S:.0f} s or more to import at start-up; nodes imported from "
    "Google Drive in Colab (`/content/drive/`) are read over the network.",
    advice=(ADVICE_DRIVE, ADVICE_SLOW_NODE, ADVICE_BAKE),
)
def _slow_import(facts: Facts) -> list[Finding]:
    slow = [(run, seconds, path, line) for run in facts.runs_in("slow_imports")
            for seconds, path, failed, line in run.import_times if seconds >= SLOW_IMPORT_S and not failed]
    if not slow:
        return []
    slow.sort(key=lambda s: -s[1])
    run, seconds, path, _ = slow[0]
    total = sum(s[1] for s in slow)
    on_drive = [p for _, _, p, _ in slow if p.startswith(DRIVE_MOUNT)]
    which = ("It is" if len(slow) == 1 else "They are" if len(on_drive) == len(slow)
             else f"{len(on_drive)} of them are")
    drive = (f" {which} imported from Google Drive (`{DRIVE_MOUNT}`), which Colab mounts over the network: every "
             "file Python reads to import a node is a network round trip, the likely reason for the wait."
             if on_drive else "")
    return [finding(
        "slow-import", f"Slow custom-node import: {basename(path)} took {dur(seconds)} at start-up", "high",
        f"{plural(len(slow), 'custom node')} took {SLOW_IMPORT_S:.0f} s or more to import ({dur(total)} in all), "
        f"start-up time before ComfyUI serves anything (not prompt time).{drive}",
        [*([ADVICE_DRIVE()] if on_drive else []), ADVICE_SLOW_NODE(), ADVICE_BAKE()],
        [facts.cite(r.source, line, f"{s:.1f} seconds: {p}") for r, s, p, line in slow],
        {"nodes": {basename(p): s for _, s, p, _ in slow}, "import_s": round(total, 3)})]
