"""ComfyUI that never became ready: start-up failed, and the cause the log shows."""

from __future__ import annotations

from ...dataclass import dataclass
from ...events import Event, EventKind
from ...lazyre import lazy_re
from ...model import Evidence, Finding, Run
from ...text import basename, dur, plural
from ..engine import Advice, finding, rule
from ..evidence import clip, event_line
from ..facts import Facts
from ..hints import OWN_WORDS_ADVICE, own_words_advice
from ..packages import missing_module, package_of
from ..pytorch import ADVICE_TORCH_API, caller_owner, innermost_caller, torch_api_advice

#: Paths of Python installations that are not the one ComfyUI's portable build ships.
STORE_PYTHON = "\\windowsapps\\"
PORTABLE_PYTHON = "python_embeded"

ADVICE_INSTALL_TORCH = Advice(
    "Install PyTorch into the Python that ran ComfyUI: `{python} -m pip install torch torchvision torchaudio`, "
    "with the index URL pytorch.org gives for your GPU", {"python": "PYTHON"})
ADVICE_STORE_PYTHON = Advice(
    "`{python}` is the Microsoft Store Python, not the portable build's `python_embeded`: start the portable build "
    "with `run_nvidia_gpu.bat`, which runs `python_embeded\\python.exe` (it has PyTorch)", {"python": "python.exe"})
ADVICE_TORCH_DLL = Advice(
    "PyTorch is installed but its DLLs do not load: reinstall it for this Python and GPU, and install the Microsoft "
    "Visual C++ Redistributable")
ADVICE_FIX_ERROR = Advice(
    "Fix the error start-up ends with (`{error}`{where}): usually a package that does not fit the installed PyTorch "
    "or Python; reinstall ComfyUI's requirements into the Python that runs it "
    "(`python -m pip install -r requirements.txt`)", {"error": "the exception", "where": ""})
#: What PyTorch raises when the CUDA driver fails as it first asks for the GPUs (c10/cuda/CUDAFunctions.cpp
#: ``device_count_impl``: cudaErrorUnknown, cudaErrorInitializationError), before any model is loaded.
CUDA_INIT_FAILURES = ("CUDA unknown error - this may be due to an incorrectly set up environment",
                      "CUDA driver initialization failed, you might not have a CUDA gpu")
ADVICE_CUDA_INIT = Advice(
    "`{error}`: the NVIDIA driver failed when PyTorch first asked it for the GPUs, before any model was loaded, and "
    "no Python package fixes that. Check that `nvidia-smi` works where ComfyUI runs; a GPU or driver in a bad state "
    "usually needs a restart of the machine (after a driver update, or on Linux after a suspend: reloading "
    "`nvidia_uvm`); on a cloud pod, restart it or take another machine",
    {"error": "RuntimeError: CUDA unknown error"})
ADVICE_MODULE_ALSO = Advice(
    "Install `{package}` into the Python that runs {where} (`No module named '{module}'`): `python -m pip install "
    "{package}`", {"package": "the package", "where": "it", "module": "X"})
ADVICE_WORKER_WAIT = Advice(
    "worker-comfyui waits `COMFY_API_AVAILABLE_MAX_RETRIES` × `COMFY_API_AVAILABLE_INTERVAL_MS` (500 × 50 ms, 25 s, "
    "by default) for ComfyUI to answer: a start-up slower than that (many custom nodes, models on a network volume) "
    "fails the first jobs of a cold worker. Raise them in the endpoint's environment")
#: asyncio's create_server when the socket cannot bind (CPython Lib/asyncio/base_events.py: `raise OSError(err.errno,
#: 'error while attempting to bind on address %r: %s' % (sa, err.strerror.lower()))`, checked through the code index),
#: raised out of ComfyUI's server.start: ``OSError: [Errno 10048] error while attempting to bind on address
#: ('127.0.0.1', 8188): only one usage of each socket address …`` (Comfy-Org/ComfyUI#2384, #2305, #1579).
BIND_RE = lazy_re(r"\[Errno (?P<errno>\d+)\] error while attempting to bind on address "
                  r"\('?(?P<host>[^',]*)'?, (?P<port>\d+)[^)]*\)")
#: errno of a port another process holds (Linux EADDRINUSE 98, macOS 48, Windows WSAEADDRINUSE 10048), of a port
#: the system refuses (EACCES 13, WSAEACCES 10013: on Windows most often a range Hyper-V or WSL reserves), and of an
#: address that is not this machine's (EADDRNOTAVAIL 99, macOS 49, WSAEADDRNOTAVAIL 10049: `--listen` given one).
BIND_IN_USE = frozenset({"98", "48", "10048"})
BIND_IN_USE_LINUX = "98"
#: The ``error`` of ComfyUI's own line for a port in use (parse/messages.toml, row ``server_port_in_use``).
PORT_IN_USE = "port_in_use"
BIND_REFUSED = frozenset({"13", "10013"})
BIND_NOT_HERE = frozenset({"99", "49", "10049"})
ADVICE_PORT_IN_USE = Advice(
    "Port {port} is already taken, most often by a ComfyUI that is still running (an earlier start, a Manager "
    "restart that left the old process, ComfyUI Desktop, or a Krita/SwarmUI server): close it, or find what holds "
    "the port (`netstat -ano | findstr :{port}` on Windows, `lsof -i :{port}` elsewhere) and end that process",
    {"port": "8188"})
ADVICE_OTHER_PORT = Advice("Or start this ComfyUI on another port: `--port {other}`", {"other": "8189"})
ADVICE_PORT_REFUSED = Advice(
    "The system refuses port {port} to ComfyUI: on Windows it is most often in a range Hyper-V or WSL reserves "
    "(`netsh interface ipv4 show excludedportrange protocol=tcp` lists them); start ComfyUI with `--port` outside "
    "those ranges", {"port": "8188"})
ADVICE_NOT_HERE = Advice(
    "`{host}` is not an address of this machine: start ComfyUI with `--listen` and an address this machine has "
    "(`--listen 0.0.0.0` for all of them, or no `--listen` for this machine only)", {"host": "the address"})
ADVICE_CRASHED = Advice(
    "The process crashed in native code during start-up: what start-up was loading then (the lines just before "
    "the crash; a custom node's import, most often) is the first suspect; the crash finding says how to make the "
    "next crash name the code")
ADVICE_CAPTURE = Advice(
    "Capture the whole console (`docker logs`, the terminal's full scroll-back, or ComfyUI's own `comfyui.log`): "
    "{what}", {"what": "the log ends before the cause"})


@rule(
    "startup-failed", "error", None,
    trigger="A log that shows ComfyUI starting (device, custom-node imports, Manager's `** Python executable`, a "
    "CUDA banner) but never ready (`To see the GUI go to`) and no prompt run, in any start-up: the cause the log "
    "shows (torch missing from the Python that ran, torch's DLLs, the exception start-up ended with, a log cut "
    "off inside a traceback). Or worker-comfyui giving up waiting for ComfyUI (`Failed to connect to server at … "
    "after N attempts`) in a log with no line of ComfyUI's start-up: the job failed before it ran.",
    advice=(ADVICE_INSTALL_TORCH, ADVICE_STORE_PYTHON, ADVICE_TORCH_DLL, *OWN_WORDS_ADVICE, ADVICE_TORCH_API,
            ADVICE_CUDA_INIT, ADVICE_PORT_IN_USE, ADVICE_OTHER_PORT, ADVICE_PORT_REFUSED, ADVICE_NOT_HERE,
            ADVICE_FIX_ERROR, ADVICE_MODULE_ALSO, ADVICE_CRASHED, ADVICE_CAPTURE, ADVICE_WORKER_WAIT),
)
def _startup_failed(facts: Facts) -> list[Finding]:
    return [_finding(facts, runs) for runs in facts.failed_startups().values()]


@dataclass
class Cause:
    """Why a start-up failed, as the finding says it: headline, explanation, advice and the lines shown."""

    headline: str
    what: str
    advice: list[str]
    evidence: list[Evidence]
    confidence: str


def _finding(facts: Facts, runs: list[Run]) -> Finding:
    # a prestartup script's traceback is not start-up failing: ComfyUI starts on past it (prestartup-failed says it)
    prestartup = facts.prestartup_tracebacks()
    tracebacks: list[Event] = []
    passed: list[Event] = []
    for ev in (ev for run in runs for ev in facts.run_events(EventKind.TRACEBACK, run)):
        script = prestartup.get((ev.source, ev.line))
        if script is None:
            tracebacks.append(ev)
        else:
            passed.append(script[1])
    pythons = [ev for run in runs for ev in facts.run_events(EventKind.RUN_SETTING, run)
               if ev.fields.get("python_executable")]  # Manager's ``** Python executable:``
    python = str(pythons[-1].fields["python_executable"]) if pythons else None
    banner = _container_only(facts, runs)
    cause = _cause(facts, runs, tracebacks, python, passed, "the container's start" if banner else "start-up")
    if pythons and any(e.line == pythons[-1].line for e in cause.evidence) is False and "torch" in cause.what:
        cause.evidence.append(facts.cite_event(pythons[-1]))
    for ev in (ev for run in runs for ev in facts.run_events(EventKind.TORCH_NOT_INSTALLED, run)):
        cause.evidence.append(facts.cite_event(ev))
        break
    if banner is None:
        starts = f"{plural(len(runs), 'start-up')} of ComfyUI" if len(runs) > 1 else "ComfyUI's start-up"
    else:
        at = facts.lines_ref(banner.source, banner.line)
        starts = f"only the container's start (NVIDIA's CUDA banner, {at}), no line of ComfyUI's,"
    gave_up = [ev for run in runs for ev in facts.run_events(EventKind.WORKER_API, run)
               if ev.fields.get("state") in ("exited", "gave_up")][:1]
    if gave_up and not any(facts.shows_startup(run) for run in runs):
        return _worker_gave_up(facts, gave_up[0])
    worker = ""
    for ev in gave_up:  # worker-comfyui's word on the same end: when the worker's job lost its ComfyUI
        cause.evidence.append(facts.cite_event(ev))
        took = (f" after {dur((ev.ts - runs[0].started_at).total_seconds())}" if ev.ts and runs[0].started_at
                else "")
        worker = (f" worker-comfyui gave up on it{took} ({facts.lines_ref(ev.source, ev.line)}: "
                  f"`{clip(event_line(ev)[1], 100)}`).")
    return finding(
        "startup-failed", f"ComfyUI never became ready: {cause.headline}", cause.confidence,
        f"The log shows {starts}{'' if banner is not None else ' but'} never `To see the GUI go to` and no prompt: "
        "it did not get as far as "
        f"serving. {cause.what}{worker}",
        cause.advice, cause.evidence or [facts.cite(runs[-1].source, runs[-1].last_line, "the last line")],
        {"start_ups": len(runs), "python": python}, 0.0, ())


def _worker_gave_up(facts: Facts, ev: Event) -> Finding:
    """worker-comfyui's word that ComfyUI never answered, in a log with no line of ComfyUI's start-up: the job
    failed at its first step. handler.py check_server: ``print(f"worker-comfyui - Failed to connect to server at
    {url} after {retries} attempts.")`` then the handler returns ``{"error": f"ComfyUI server ({COMFY_HOST}) not
    reachable after multiple retries."}`` (checked through the code index; runpod-workers/worker-comfyui#127)."""
    exited = ev.fields.get("state") == "exited"
    attempts = ev.fields.get("attempt")
    text = clip(event_line(ev)[1], 100)
    what = ("found the ComfyUI process gone" if exited else
            f"gave up waiting for ComfyUI's server{f' after {attempts} attempts' if attempts else ''}")
    why = (f"worker-comfyui {what} ({facts.lines_ref(ev.source, ev.line)}: `{text}`), and the log holds no line of "
           "ComfyUI's own start-up: the job failed before its workflow was sent (the worker answers it with "
           "`ComfyUI server (…) not reachable`). Either ComfyUI was still starting when the worker stopped waiting, or "
           "it crashed while starting: its own lines, in the same container log, say which.")
    advice = [ADVICE_CAPTURE(what="ComfyUI's start-up lines (the container's log) say whether it crashed or was "
                                  "still loading")]
    if not exited:
        advice.append(ADVICE_WORKER_WAIT())
    return finding("startup-failed", "ComfyUI never answered worker-comfyui: the job failed before it ran",
                   "medium", why, advice, [facts.cite_event(ev)], {"start_ups": 0, "python": None}, 0.0, ())


def _container_only(facts: Facts, runs: list[Run]) -> Event | None:
    """The CUDA banner, when it is all the runs show of a start: the container's, no line of ComfyUI's (RunPod's
    system log then a container log cut after its banner: runpod-workers/worker-comfyui#78)."""
    for run in runs:
        if (run.device or run.total_vram_mb or run.import_times or run.vram_states or run.pytorch_version
                or run.comfyui_version or run.setup):
            return None
        if any(kind is not EventKind.CUDA_BANNER and facts.run_events(kind, run) for kind in list(facts.events)):
            return None
    banners = facts.run_events(EventKind.CUDA_BANNER, runs[0])
    return banners[0] if banners else None


def _cause(facts: Facts, runs: list[Run], tracebacks: list[Event], python: str | None, passed: list[Event],
           start: str = "start-up") -> Cause:
    """The cause the log shows; ``passed`` are prestartup scripts' tracebacks, which ComfyUI starts on past; ``start``
    names what the log ends in (the container's start, when that is all it shows)."""
    ended = [ev for ev in tracebacks if ev.fields.get("exception_type")]
    torch = [ev for ev in ended if ev.fields.get("exception_type") == "ModuleNotFoundError"
             and "'torch'" in str(ev.fields.get("message", ""))]
    where = f" (`{python}`)" if python else ""
    if torch:
        said = [f"`{clip(_error(torch[-1]), 120)}`: PyTorch is missing from the Python that ran ComfyUI{where}."]
        advice = []
        if python and STORE_PYTHON in python.lower().replace("/", "\\"):
            said.append("That path is the Microsoft Store Python, not the portable build's `python_embeded`.")
            advice.append(ADVICE_STORE_PYTHON(python=python))
        elif python and PORTABLE_PYTHON in python:
            said.append("That is the portable build's own Python, which ships with PyTorch: the build is incomplete.")
        advice.append(ADVICE_INSTALL_TORCH(python=python or "python"))
        return Cause("PyTorch is not installed in the Python that ran it", " ".join(said), advice,
                     [facts.cite_event(torch[-1])], "high")
    dll = [ev for ev in ended if ev.fields.get("exception_type") == "OSError" and "torch" in str(ev.fields.get("text"))
           and ("WinError 126" in str(ev.fields.get("message")) or "WinError 127" in str(ev.fields.get("message")))]
    if dll:
        return Cause("PyTorch's DLLs do not load",
                     f"PyTorch's DLLs do not load: `{clip(_error(dll[-1]), 200)}`{where}.",
                     [ADVICE_TORCH_DLL()], [facts.cite_event(dll[-1])], "high")
    bind = next(((ev, m) for ev in reversed(ended) if (m := BIND_RE.search(_error(ev))) is not None), None)
    if bind is not None:
        return _bind_cause(facts, bind[0], bind[1]["errno"], bind[1]["host"], bind[1]["port"])
    taken = next((ev for run in runs for ev in facts.run_events(EventKind.ERROR_LINE, run)
                  if ev.fields.get("error") == PORT_IN_USE), None)
    if taken is not None:  # ComfyUI's own line since 2026, with no traceback
        return _bind_cause(facts, taken, BIND_IN_USE_LINUX, str(taken.fields["host"]), str(taken.fields["port"]))
    cut = tracebacks[-1] if tracebacks and not tracebacks[-1].fields.get("exception_type") and \
        tracebacks[-1].end_line >= runs[-1].last_line else None
    own = [ev for ev in ended if basename(str(ev.fields.get("first_file", ""))) == "main.py"]
    chosen = own[-1] if own else (ended[-1] if ended else None)
    if chosen is not None:
        where_raised = _main_py(chosen) if own else _origin(chosen)
        what = f"start-up failed with `{clip(_error(chosen), 200)}`" + (f" in {where_raised}" if where_raised else "")
        evidence = [facts.cite_event(chosen)]
        others = list({_error(ev): ev for ev in ended if _error(ev) != _error(chosen)}.values())
        if others:
            what += "; also " + "; ".join(f"`{clip(_error(ev), 100)}`" + (f" in {_origin(ev)}" if _origin(ev) else "")
                                          for ev in others[-2:])
            evidence += [facts.cite_event(ev) for ev in others[-2:]]
        own_words = own_words_advice(str(chosen.fields.get("message") or ""))  # the error's own instruction first
        advice = [own_words] if own_words is not None else []
        node = str(chosen.fields["custom_node"]) if chosen.fields.get("custom_node") else None
        frame = innermost_caller([str(f) for f in chosen.fields.get("frames", [])])
        torch_api = torch_api_advice(_error(chosen), facts.run_at(chosen.source, chosen.line), node, frame,
                                     caller_owner(chosen.fields))
        cuda_init = next((f for f in CUDA_INIT_FAILURES if f in _error(chosen)), None)
        if torch_api is None and cuda_init is not None:  # the GPU's driver, not a package (RunPod pods: #18 of
            # wlsdml1114/Infinitetalk_Runpod_hub, `torch._C._cuda_init()` raising it out of main.py's imports)
            advice.append(ADVICE_CUDA_INIT(error=f"{chosen.fields.get('exception_type')}: {cuda_init}"))
        else:
            advice.append(torch_api or ADVICE_FIX_ERROR(error=clip(_error(chosen), 100),
                                                        where=f", {where_raised}" if where_raised else ""))
        for ev in others[-2:]:  # a module missing beside the cause (the RunPod handler's own imports)
            module = missing_module(_error(ev))
            if module is not None:
                node, first = ev.fields.get("custom_node"), str(ev.fields.get("first_file") or "")
                where = f"custom node `{node}`" if node else f"`{basename(first)}`" if first else "it"
                advice.append(ADVICE_MODULE_ALSO(package=package_of(module), module=module, where=where))
        if cut is not None:
            cut_at = facts.lines_ref(cut.source, cut.line)
            advice.append(ADVICE_CAPTURE(what=f"the log ends inside a traceback ({cut_at})"))
        headline = f"{chosen.fields.get('exception_type')}" + (f" in {where_raised}" if where_raised else "")
        return Cause(headline, what[0].upper() + what[1:] + ".", advice, evidence, "high")
    crashed = next((ev for run in runs for ev in facts.run_events(EventKind.CRASH, run)), None)
    if crashed is not None and cut is None:  # a native fault the shell reports (Comfy-Org/ComfyUI#5387)
        message = str(crashed.fields.get("message") or event_line(crashed)[1])
        return Cause(f"it crashed ({message})",
                     f"Start-up ended in a crash at {facts.lines_ref(crashed.source, crashed.line)}: `{message}`, "
                     "with no Python exception (the crash finding).",
                     [ADVICE_CRASHED()], [facts.cite_event(crashed)], "high")
    if cut is not None:
        return Cause("the log ends inside a traceback",
                     f"The log ends inside a traceback that starts at {facts.lines_ref(cut.source, cut.line)}: the "
                     "exception it was about to name is not in the log.",
                     [ADVICE_CAPTURE(what="the log ends inside the traceback that names the cause")],
                     [facts.cite_event(cut)], "medium")
    last = runs[-1]
    end = facts.run_end(last)
    # the source's last line, not the run's last line comfylog read: lines it does not read (a custom node's own,
    # field9 12) come after it, and "the log ends" at line 7 of 16 is a wrong figure; runs[-1] is the source's last run
    last_line = max(last.last_line, facts.report.sources[last.source].lines)
    what = ("ComfyUI started again with no error before it: the process was killed without a chance to log "
            "(the OOM killer, a memory limit, a failing health check)" if end == "restart"
            else f"the log ends during {start} ({facts.lines_ref(last.source, last_line)}) with no error")
    told = what[0].upper() + what[1:] + "."
    if passed:  # the traceback a reader sees is not the cause: say why it is left out
        tb = passed[-1]
        told += (f" The traceback at {facts.lines_ref(tb.source, tb.line)} (`{clip(_error(tb), 100)}`) is a custom "
                 "node's prestartup script's, which ComfyUI starts on past (the prestartup-failed finding).")
    return Cause("no error in the log" if end != "restart" else "restarted without an error",
                 told, [ADVICE_CAPTURE(what=f"{what.split(':', 1)[0]}")],
                 [facts.cite(last.source, last_line if end != "restart" else last.last_line, "the last line")],
                 "low")


def _bind_cause(facts: Facts, ev: Event, errno: str, host: str, port: str) -> Cause:
    """The server could not listen: the port in use, refused, or an address not this machine's. ComfyUI had started
    (the models are not loaded yet); only its web server failed, so no package is at fault."""
    error = clip(_error(ev) if ev.kind is EventKind.TRACEBACK else event_line(ev)[1], 200)
    if errno in BIND_IN_USE:
        headline = f"port {port} is already in use"
        what = (f"Its web server could not listen on {host}:{port} (`{error}`): another process already holds that "
                "port, most often a ComfyUI that is still running.")
        advice = [ADVICE_PORT_IN_USE(port=port), ADVICE_OTHER_PORT(other=str(int(port) + 1))]
    elif errno in BIND_REFUSED:
        headline = f"port {port} is refused"
        what = f"Its web server was not allowed to listen on {host}:{port} (`{error}`)."
        advice = [ADVICE_PORT_REFUSED(port=port)]
    elif errno in BIND_NOT_HERE:
        headline = f"{host} is not this machine's address"
        what = f"Its web server could not listen on {host}:{port} (`{error}`): this machine has no such address."
        advice = [ADVICE_NOT_HERE(host=host)]
    else:
        headline = f"its server could not listen on port {port}"
        what = f"Its web server could not listen on {host}:{port} (`{error}`)."
        advice = [ADVICE_OTHER_PORT(other=str(int(port) + 1))]
    return Cause(headline, what, advice, [facts.cite_event(ev)], "high")


def _error(ev: Event) -> str:
    exc_type = str(ev.fields.get("exception_type") or "")
    message = str(ev.fields.get("message") or "")
    return f"{exc_type}: {message}" if message else exc_type or event_line(ev)[1]


def _main_py(ev: Event) -> str:
    """Where a traceback that began in main.py failed: main.py itself, or a file it imported
    (``generic.py:<module>``: the error is raised there, not in ComfyUI's code), named with its library
    when the frame's path shows one (043: `transformers`)."""
    frame = innermost_caller([str(f) for f in ev.fields.get("frames", [])])
    failed = frame.split(":", 1)[0] if frame else None
    if not failed or failed == "main.py":
        return "ComfyUI's main.py"
    library = caller_owner(ev.fields)
    return f"`{failed}` of the library `{library}`, imported by ComfyUI's main.py" if library else \
        f"`{failed}`, imported by ComfyUI's main.py"


def _origin(ev: Event) -> str:
    """Where a traceback began, when it is not ComfyUI: ``/rp_handler.py``, a custom node."""
    if ev.fields.get("custom_node"):
        return f"custom node `{ev.fields['custom_node']}`"
    first = str(ev.fields.get("first_file") or "")
    return f"`{first}`" if first else ""
