"""How ComfyUI died under a prompt, shared by the rules that tell it, so one death is one finding.

ComfyUI killed by the kernel leaves no line of its own: the run just stops, the container starts
again, or worker-comfyui finds its websocket closed and ComfyUI's HTTP server gone. Three rules
can explain such a death: ``container-ram`` (the run sized its memory from the host's RAM inside a
container), ``oom-suspected`` (sampling cut off) and ``comfyui-died`` (the worker lost ComfyUI).
The first that applies claims the prompt; the others, and ``unfinished``, leave it alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from ..dataclass import dataclass
from ..events import Event, EventKind
from ..lazyre import lazy_re
from ..model import ErrorRecord, Evidence, Prompt, Run
from ..text import dur
from .evidence import event_line
from .facts import WORKER_ECHOES, Facts

#: The ``error`` of the `prompt_worker_died` message row (Python's ``Exception in thread Thread-N (prompt_worker):``).
PROMPT_WORKER = "prompt_worker"
#: The runtime's error strings of a kernel that faulted (cudaGetErrorString / hipGetErrorString): the sticky
#: errors, after which the context cannot be used. Other warnings (a driver shutting down at exit) are not faults.
FAULT_RE = lazy_re(r"unspecified launch failure|illegal memory access|illegal instruction|misaligned address|"
                      r"launch timed out")


def gpu_faults(facts: Facts) -> list[Event]:
    """PyTorch's `HIP warning:` / `CUDA warning:` lines of a kernel that faulted (``gpu-fault`` tells them)."""
    return facts.once("gpu_faults", lambda: [
        ev for ev in facts.events[EventKind.ERROR_LINE]
        if ev.fields.get("error") == "gpu_warning" and FAULT_RE.search(str(ev.fields.get("message", "")))])


def faulted_prompts(facts: Facts) -> dict[int, Event]:
    """Unfinished prompts (by index) that were running when a GPU kernel faulted, with the first fault in them:
    ``gpu-fault`` says what that fault does, so ``unfinished`` defers to it rather than guess at a silent death."""

    def scan() -> dict[int, Event]:
        faults = gpu_faults(facts)
        if not faults:
            return {}
        claimed: dict[int, Event] = {}
        for prompt in facts.prompts_in("unfinished"):
            fault = next((ev for ev in faults if ev.source == prompt.source
                          and prompt.line <= ev.line <= max(prompt.last_line, prompt.line)), None)
            if prompt.started and fault is not None:
                claimed[prompt.index] = fault
        return claimed

    return facts.once("faulted_prompts", scan)


def worker_death(facts: Facts) -> tuple[Event, list[Prompt]] | None:
    """The first `Exception in thread Thread-N (prompt_worker):` and the prompts of its run it left unfinished
    (``prompt-worker-died`` names them, so ``unfinished`` leaves them to it)."""

    def scan() -> list[tuple[Event, list[Prompt]]]:  # a list: what ``once`` keeps must be the scan's own object
        ev = next((ev for ev in facts.events[EventKind.ERROR_LINE] if ev.fields.get("error") == PROMPT_WORKER),
                  None)
        if ev is None:
            return []
        run = facts.run_at(ev.source, ev.line)
        stuck = [p for p in (facts.prompts_of_run(run.index) if run is not None else [])
                 if p.source == ev.source and p.status == "unfinished"]
        return [(ev, stuck)]

    return next(iter(facts.once("worker_death", scan)), None)


#: How far below the prompt worker's `Exception in thread` line its traceback may start (Python prints it on the next
#: line).
WORKER_TRACEBACK_AFTER_LINES = 2


def worker_death_traceback(facts: Facts, ev: Event) -> Event | None:
    """The traceback Python printed under the prompt worker's `Exception in thread Thread-N (prompt_worker):` line
    ``ev``: prompt-worker-died names its exception, so ``exception`` does not say it again as a failure of no
    prompt."""
    return next(iter(facts.between(EventKind.TRACEBACK, ev.source, ev.line + 1,
                                   ev.line + WORKER_TRACEBACK_AFTER_LINES)), None)


def own_errors(facts: Facts, prompt: Prompt) -> Iterator[ErrorRecord]:
    """The prompt's errors that ComfyUI (or its nodes) logged, without the worker's echoes, one at a time (a prompt
    may log 300,000)."""
    return (e for e in facts.walk_errors_of(prompt) if e.kind not in WORKER_ECHOES)


def logged_own_error(facts: Facts, prompt: Prompt) -> bool:
    """ComfyUI (or one of its nodes) logged an error of the prompt (own_errors)."""
    return next(own_errors(facts, prompt), None) is not None


def worker_lost(facts: Facts) -> dict[int, list[ErrorRecord]]:
    """Prompts (by index) during which worker-comfyui lost ComfyUI: its websocket closed and
    ComfyUI's HTTP server no longer answered (``ComfyUI HTTP unreachable``, ``Max reconnection
    attempts reached``), or, with a prompt still running, the worker could not reach ComfyUI any more or saw its
    process gone (``Failed to connect to server at … after N attempts``, ``ComfyUI process has exited``: the
    ``worker`` records; runpod-workers/worker-comfyui#40, whose polling handler of 2024 had no websocket)."""

    def scan() -> dict[int, list[ErrorRecord]]:
        lost: dict[int, list[ErrorRecord]] = defaultdict(list)
        for e in facts.errors_in("ws_lost", "worker"):
            if e.prompt is not None:
                lost[e.prompt].append(e)
        return dict(lost)

    return facts.once("worker_lost", scan)


def died_silently(facts: Facts, prompt: Prompt) -> bool:
    """The prompt was running when ComfyUI went away (a restart followed, or the worker lost it)
    and ComfyUI logged no error of its own: how a process killed by the kernel looks."""
    if prompt.status != "unfinished" or not prompt.started or logged_own_error(facts, prompt):
        return False
    run = facts.run_of(prompt)
    return run is not None and (facts.run_end(run) == "restart" or prompt.index in worker_lost(facts))


def in_container(facts: Facts, run: Run) -> bool:
    """The run's log shows a container: NVIDIA's image banner, RunPod's serverless worker or
    worker-comfyui (which runs only in its Docker image)."""
    return run.serverless or bool(
        facts.between(EventKind.CUDA_BANNER, run.source, 1, run.last_line)
        or facts.run_events(EventKind.WORKER_API, run) or facts.run_events(EventKind.WS_LOST, run))


@dataclass(frozen=True, slots=True)
class HostSized:
    """A run whose RAM budgets came from the host's RAM: what the log says of it."""

    run: Run
    total_ram_mb: int
    pinned_mb: float


def host_sized(facts: Facts, run: Run) -> HostSized | None:
    """The run sized its pinned memory from the RAM it saw inside a container, without reading the
    container's limit: ``Enabled pinned memory`` and no ``RAM limited by cgroup`` anywhere in the log."""
    pinned = run.setup.get("pinned_memory_mb")
    if pinned is None or run.total_ram_mb is None or not in_container(facts, run):
        return None
    limited = facts.once("cgroup_limited_sources",
                         lambda: {r.source for r in facts.runs_in("ram_limited")})
    if run.source in limited:
        return None
    return HostSized(run, run.total_ram_mb, float(pinned))


def ram_killed(facts: Facts) -> dict[int, HostSized]:
    """Prompts (by index) ``container-ram`` explains: a silent death in a run with host-sized budgets."""

    def scan() -> dict[int, HostSized]:
        claimed: dict[int, HostSized] = {}
        for prompt in facts.prompts_in("unfinished"):
            run = facts.run_of(prompt)
            sized = host_sized(facts, run) if run is not None else None
            if sized is not None and died_silently(facts, prompt):
                claimed[prompt.index] = sized
        return claimed

    return facts.once("ram_killed", scan)


def comfyui_died(facts: Facts) -> dict[int, list[ErrorRecord]]:
    """Prompts (by index) ``comfyui-died`` explains: the worker lost ComfyUI, ComfyUI logged no error,
    and neither a RAM kill, the shell's word that it was killed (``comfyui-killed``) nor a sampling cut short
    (``oom-suspected``) tells it better."""
    killed = ram_killed(facts)
    silent = facts.silent_deaths()
    shell = shell_killed(facts)
    return {index: records for index, records in worker_lost(facts).items()
            if index not in killed and index not in silent and index not in shell
            and not any(logged_own_error(facts, p) for p in facts.prompts_at([index]))}


#: The ``error`` of the `shell_job_killed` message row: the shell that started a process says it was `Killed`.
KILLED = "killed"


def kills(facts: Facts) -> list[Event]:
    """The start script's `…: line N:  PID Killed  COMMAND` lines whose command is ComfyUI's (its ``main.py``), and
    an interactive shell's bare `Killed`: that one names no command, but it reports the job in the terminal's
    foreground, and in ComfyUI's console that is ComfyUI."""
    return facts.once("shell_kills", lambda: [
        ev for ev in facts.events[EventKind.ERROR_LINE]
        if ev.fields.get("error") == KILLED
        and ("command" not in ev.fields or "main.py" in str(ev.fields.get("command", "")))])


def shell_killed(facts: Facts) -> dict[int, Event]:
    """Unfinished prompts (by index) that were running when the shell says ComfyUI was killed, with that line:
    ``comfyui-killed`` tells them, unless the run's RAM sizing explains the kill (``container-ram``)."""

    def scan() -> dict[int, Event]:
        found = kills(facts)
        if not found:
            return {}
        sized = ram_killed(facts)
        claimed: dict[int, Event] = {}
        for prompt in facts.prompts_in("unfinished"):
            kill = next((ev for ev in found if ev.source == prompt.source and ev.line >= prompt.line), None)
            run = facts.run_at(kill.source, kill.line) if kill is not None else None
            # the kill ends the prompt's own run: a later run's kill is not this prompt's end
            if kill is not None and run is not None and run.index == prompt.run and prompt.index not in sized:
                claimed[prompt.index] = kill
        return claimed

    return facts.once("shell_killed", scan)


@dataclass(frozen=True, slots=True)
class WorkLeft:
    """What an unfinished prompt was last seen doing, as fields: the rules build their titles and advice from these,
    not by cutting up the sentence."""

    state: str  # "loading", "sampling", "sampled" (its last bar a sampling bar done to its total, nothing loaded
    # after it), "bar" (other work's bar: a VAE's, a text encoder's) or "running" (no sign)
    what: str  # the model it was loading, the bar's label, or the sampled bar's steps ("30/30"); "" for sampling and
    # running
    doing: str  # the sentence: "loading WAN21 (`Requested to load` at line 12, 53.6s before)", "sampling (2/20
    # steps)", "done sampling (30/30 steps) and on the work after it (the VAE decode, the save)", "running
    # WanVAE encoding frames (3/588)", "running"
    evidence: list[Evidence]

    @property
    def short(self) -> str:
        """``doing`` without its figures and lines, for a title after "while": "loading WAN21", "sampling",
        "running WanVAE encoding frames", "running" ("sampled": "running", see ``when``)."""
        return {"loading": f"loading {self.what}", "bar": f"running {self.what}",
                "sampled": "running"}.get(self.state, self.state)

    @property
    def when(self) -> str:
        """The title's words for when it died: "while loading WAN21", "while sampling", "after sampling finished
        (30/30)": a prompt whose last line is a finished sampling bar was not sampling any more."""
        return f"after sampling finished ({self.what})" if self.state == "sampled" else f"while {self.short}"


@dataclass(frozen=True, slots=True)
class LastWork:
    """What a prompt was doing when ComfyUI died, and the lines that show it and its end."""

    left: WorkLeft
    ended: str  # "the worker lost ComfyUI (line 41) and the container started again (line 45)" (with the
    # file's name after each line when the report reads several)
    evidence: list[Evidence]

    @property
    def doing(self) -> str:
        return self.left.doing


def work_left(facts: Facts, prompt: Prompt, at: datetime | None) -> WorkLeft:
    """What an unfinished prompt was last seen doing, and the line that shows it: ``loading WAN21``
    (with how long before ``at`` it was requested), ``sampling (2/20 steps)``, past a sampling bar done to its
    total, other work's bar by its label (``running WanVAE encoding frames (3/588)``), or ``running``."""
    bars = facts.bars_of(prompt)
    bar = bars[-1] if bars and not bars[-1].is_loading and bars[-1].done < bars[-1].total else None
    requests = facts.prompt_events(EventKind.LOAD_REQUESTED, prompt)
    loads = facts.loads_of(prompt)
    loading = requests[-1] if requests and not any(ld.line > requests[-1].line for ld in loads) else None
    if loading is not None and (bar is None or loading.line > bar.end_line):
        model = str(loading.fields.get("model"))
        doing = f"loading {model}"
        if at is not None and loading.ts is not None:  # say how long: the request may not be all it did
            since = dur((at - loading.ts).total_seconds())
            doing += f" (`Requested to load` at {facts.lines_ref(loading.source, loading.line)}, {since} before)"
        return WorkLeft("loading", model, doing, [facts.cite_event(loading)])
    last = bars[-1] if bars and bar is None and not bars[-1].is_loading else None
    if (last is not None and last.is_sampling and loading is None
            and not any(ld.line > last.end_line for ld in loads)):  # a load after it: what it did last
        # The sampler's bar at its total (`30/30 [06:13<00:00, 12.46s/it]`, then the shell's `Killed`:
        # kijai/ComfyUI-WanVideoWrapper#20): sampling was over; what follows it (the VAE decode, the save) prints
        # nothing until `Prompt executed in`.
        steps = f"{last.done:g}/{last.total:g}"
        return WorkLeft("sampled", steps, f"done sampling ({steps} steps) and on the work after it (the VAE decode, "
                        "the save)", [facts.cite(last.source, last.end_line, f"{steps} steps")])
    if bar is not None and bar.is_sampling:
        return WorkLeft("sampling", "", f"sampling ({bar.done:g}/{bar.total:g} steps)",
                        [facts.cite(bar.source, bar.end_line, f"{bar.done:g}/{bar.total:g} steps")])
    if bar is not None:
        return WorkLeft("bar", str(bar.label), f"running {bar.label} ({bar.done:g}/{bar.total:g})",
                        [facts.cite(bar.source, bar.end_line, f"{bar.label} {bar.done:g}/{bar.total:g}")])
    return WorkLeft("running", "", "running", [])


def last_work(facts: Facts, prompt: Prompt) -> LastWork:
    """The prompt's last visible work (a bar short of its total: the sampler's, or other work's such
    as a VAE's, by its label; or a model it was loading) and how the log shows ComfyUI gone: the
    worker's lost websocket, the next start-up."""
    lost = worker_lost(facts).get(prompt.index, [])
    work = work_left(facts, prompt, lost[0].ts if lost else None)
    evidence = list(work.evidence)
    ends = []
    for record in lost[:1]:
        ref = facts.lines_ref(record.source, record.line)
        ends.append(f"worker-comfyui lost ComfyUI ({ref}: its websocket closed and ComfyUI's HTTP server no longer "
                    "answered)" if record.kind == "ws_lost" else
                    f"the worker could no longer reach ComfyUI ({ref}: `{record.message}`)")
        evidence.append(facts.cite(record.source, record.line, record.message))
    run = facts.run_of(prompt)
    following = facts.runs.get(run.index + 1) if run is not None else None
    if run is not None and following is not None and facts.run_end(run) == "restart":
        starts = facts.run_events(EventKind.CUDA_BANNER, following) or facts.run_events(EventKind.VRAM_STATE, following)
        line = event_line(starts[0])[0] if starts else following.first_line
        ends.append(f"the container started again ({facts.lines_ref(following.source, line)})")
        evidence.append(facts.cite_event(starts[0]) if starts else facts.cite(following.source, line, "start-up"))
    return LastWork(work, " and ".join(ends) or "the log ends", evidence)
