"""A slow start-up outside the custom nodes, from a Python environment on a network volume: ComfyUI took a minute
or more from its first line to `To see the GUI go to`, its custom nodes' prestartup and imports a small part of it,
and the Python that runs it is on a network mount (field4 03: 1:28 from `/runpod-volume/venv`, custom nodes 0.0 s).

Only there: elsewhere the log does not say where such time went (the start script's own lines fill ComfyUI's
silences), and a run's start-up can hold a container's set-up before ComfyUI started (corpus 046: 1:09 of pip
installs), so the rule times from ComfyUI's own first line. A worker-comfyui start is cold-start's."""

from __future__ import annotations

from datetime import datetime

from ...events import Event, EventKind
from ...model import Finding, Run
from ...text import dur
from ..engine import Advice, finding, rule
from ..facts import Facts, run_group
from .slow_import import DRIVE_MOUNT
from .slow_load import NETWORK_VOLUME

#: A start-up this long (seconds, ComfyUI's first line to its ready line) is reported.
SLOW_STARTUP_S = 60.0
#: Where the Python that runs ComfyUI is read over the network: a RunPod network volume, Colab's Google Drive.
NETWORK_MOUNTS = (NETWORK_VOLUME + "/", DRIVE_MOUNT)
#: Kinds of the lines ComfyUI prints first (main.py's extra model paths, ComfyUI-Manager's `** ` header): the
#: earliest of them is where its start-up shows in the log.
FIRST_LINE_KINDS = (EventKind.EXTRA_SEARCH_PATH, EventKind.RUN_SETTING)

ADVICE_LOCAL_PYTHON = Advice(
    "Install ComfyUI's Python environment on the container's own disk (in the image, or at start outside {mount}) "
    "and keep only models and outputs on the volume", {"mount": "the network volume"})


@run_group("python_on_network")
def _python_on_network(run: Run) -> bool:
    return str(run.setup.get("python_executable") or "").startswith(NETWORK_MOUNTS)


@rule(
    "slow-startup", "info", None,
    trigger=f"A start-up of {SLOW_STARTUP_S:.0f} s or more from ComfyUI's first line to `To see the GUI go to`, "
    "less than half of it the custom nodes' prestartup and imports, run by a Python on a network volume "
    "(`** Python executable:` under `/runpod-volume/` or `/content/drive/`).",
    advice=(ADVICE_LOCAL_PYTHON,),
)
def _slow_startup(facts: Facts) -> list[Finding]:
    for run in facts.runs_in("python_on_network"):
        python = str(run.setup.get("python_executable") or "")
        mount = next(m for m in NETWORK_MOUNTS if python.startswith(m))
        if run.api_ready_at is not None or run.ready_at is None or run.startup_s is None:
            continue
        first = _first_line(facts, run)
        if first is None or first.ts is None:
            continue
        seconds = (run.ready_at - first.ts).total_seconds()
        if not 0.0 <= seconds <= run.startup_s:
            continue  # the line's own stamp is off the run's clock (a clock going back: logs one after another)
        nodes = (run.prestartup_s or 0.0) + (run.import_s or 0.0)
        if seconds >= SLOW_STARTUP_S and nodes < seconds / 2:
            return [_slow(facts, run, first, first.ts, seconds, nodes, python, mount)]
    return []


def _first_line(facts: Facts, run: Run) -> Event | None:
    events = [ev for kind in FIRST_LINE_KINDS for ev in facts.run_events(kind, run)[:1] if ev.ts is not None]
    return min(events, key=lambda ev: ev.line, default=None)


def _slow(facts: Facts, run: Run, first: Event, since: datetime, seconds: float, nodes: float, python: str,
          mount: str) -> Finding:
    ready = run.ready_line or run.last_line
    settings = [ev for ev in facts.run_events(EventKind.RUN_SETTING, run) if ev.fields.get("python_executable")]
    evidence = [facts.cite_event(first), *[facts.cite_event(ev) for ev in settings[:1]],
                facts.cite(run.source, ready, "To see the GUI go to")]
    where = "a RunPod network volume" if mount.startswith(NETWORK_VOLUME) else "Google Drive, which Colab mounts"
    again = _faster_again(facts, run, python, seconds)
    said_again = ""
    if again is not None:
        later, later_s = again
        said_again = (f" The next start-up from the same Python took {dur(later_s)} "
                      f"({facts.lines_ref(later.source, later.first_line)}): its files were read once already.")
        evidence.append(facts.cite(later.source, later.first_line, "the next start-up's first line"))
    parts = [f"{what} {dur(part)}" for what, part in (("prestartup", run.prestartup_s), ("imports", run.import_s))
             if part is not None]
    node_text = "its custom nodes' " + " and ".join(parts) if parts else "the log lists no custom node's time"
    return finding(
        "slow-startup", f"Slow start-up: {dur(seconds)} before ComfyUI served, not in its custom nodes", "medium",
        f"ComfyUI took {dur(seconds)} from its first line ({facts.lines_ref(run.source, first.line)}) to `To see "
        f"the GUI go to` ({facts.lines_ref(run.source, ready)}); {node_text}: the rest is its own start-up (Python "
        f"importing ComfyUI and PyTorch, the GPU, the built-in nodes). The Python that runs it is on {where} "
        f"(`{python}`): every file it imports is read over the network, the likely reason.{said_again}",
        [ADVICE_LOCAL_PYTHON(mount=f"`{mount.rstrip('/')}`")], evidence,
        {"startup_s": round(seconds, 3), "custom_nodes_s": round(nodes, 3)})


def _faster_again(facts: Facts, run: Run, python: str, seconds: float) -> tuple[Run, float] | None:
    """The run's next start-up from the same Python, where it took at most half as long (files cached by then)."""
    for later in facts.runs_in("python_on_network"):
        if (later.source == run.source and later.index > run.index and later.startup_s is not None
                and str(later.setup.get("python_executable") or "") == python):
            # 0: a start-up its run's clock could not time (a clock gone back), not one that took no time
            return (later, later.startup_s) if 0.0 < later.startup_s <= seconds / 2 else None
    return None
