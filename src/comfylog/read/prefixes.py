"""Detect and strip line prefixes, turning them into timestamps.

Styles (see ../shared/notes/formats.md), detected per line so a file can mix them:

* none: ``got prompt``
* Manager, minutes / milliseconds: ``[2024-03-23 21:53] `` / ``[2025-10-22 18:04:30.118] ``
* error report: ``2024-12-17T21:15:37.373432 - ``
* docker / RunPod: ``2025-10-23T16:28:02.618719777Z `` (RFC 3339, UTC; nanoseconds cut to µs)
* time only: ``20:46:09 `` or ``[20:46:09] `` (rolls over at midnight)
* level tags: ``[INFO] ``, the RunPod console's ``[info] `` / ``[error] `` (after a docker stamp) and
  Python's ``ERROR:root:`` (stripped, no time)
* SwarmUI: ``2024-11-07 13:29:56.514 [Debug] [ComfyUI-1/STDERR] `` (its pasted server log; its console and log
  file write ``13:29:56.514 [Debug] ``, a time-only stamp), the ``[NAME/STDERR] `` of a process it started dropped
  (also alone at a line's start, as its log view's lines are copied)
* ComfyUI Desktop's electron-log: ``[2024-11-15 17:55:34.994] [info]  Received log message: `` (the stamp is
  Manager's form; the level tag padded to ``[error]``'s width and the renderer's ``Received log message: `` dropped)
* RunPod console copy: ``2025-11-10  21:50:27.563 | info | x4twfmpe23foac | `` (runpod.py puts its
  rows in time order, and folds a copy whose cells each sit on a line into such rows); copied without the
  time column, ``4v3galu315o9lw[info]`` glued to the message (no time; a trailing ``\\n`` dropped)
* runpod-python JSON: ``{"requestId": ..., "message": "Started.", "level": "INFO"}`` (message kept; the
  ``[batchId=...] `` that runpod 1.12 puts before a batch job's messages is dropped)
* runpod-python without an endpoint: ``INFO   | JOB_ID | message`` (levels DEBUG to ERROR, TRACE, TIP)
* RunPod log stream (API v2 SSE, pods and serverless workers): ``{"ts":"2026-06-01T12:02:03Z",
  "source":"container","line":"..."}`` in any key order, alone or after SSE's ``data: `` (the line
  kept, ``ts`` its time)
* Ray's worker prefix: ``(pid=3787908) ``, ``(RayWorker pid=3787908, ip=10.0.0.2) `` (no time of its own),
  before the lines of a node that runs its work in Ray workers (komikndr/raylight), and before the bars its
  workers draw through Ray's tqdm, whose ``<desc> <position>: `` label loses the position
* docker compose: ``comfyui-rocm  | `` before every line of a service (no time of its own; with
  ``--timestamps`` a docker stamp follows it). Decided per input, not per line (``compose_prefixed``):
  the reader (read/lines.py) takes it off every line of an input whose first lines mostly carry it,
  so a node's ``Name   | value`` table in another log keeps its text.

A line without a prefix gets no time: it is never given an invented one.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from ..dataclass import dataclass
from ..lazyre import lazy_re
from ..text import TIME_ONLY_BASE
from .markdown import MARKDOWN_PEEK_LINES
from .runpod import CONSOLE_ROW_RE

#: Resolution, in seconds, below which a timestamp is good enough to time phases.
FINE = 0.0
MINUTE = 60.0


DOCKER_RE = lazy_re(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:Z|[+-]\d{2}:?\d{2}) ?")
REPORT_RE = lazy_re(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))? - ")
MANAGER_RE = lazy_re(r"\[(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(?::(\d{2})(?:[.,](\d+))?)?\] ?")
TIME_ONLY_RE = lazy_re(r"\[?(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\]? ")
# The RunPod console writes its levels in lower case (``2026-06-04T13:16:48.452Z [error] ...``).
LEVEL_TAG_RE = lazy_re(
    r"\[(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|info|warning|warn|error|debug|critical)\] ?"
)
# The RunPod console's log view copied without its time column: each row its worker's id (a pod id: 14 lower-case
# letters and digits) glued to the level cell and the message, a message's own trailing newline written as the two
# characters `\n` (wlsdml1114/generate_video#3 and #4, 2025: `4v3galu315o9lw[info]FETCH ComfyRegistry Data:
# 15/98\n`, `4v3galu315o9lw[info]Finished.`). The console is RunPod's web page: no source to check beyond such copies.
RUNPOD_WORKER_TAG_RE = lazy_re(r"[a-z0-9]{14}\[(?:info|warning|warn|error|debug)\]")
# Error reports before Nov 2024 used logging's "%(asctime)s - %(name)s - %(levelname)s - %(message)s"; the
# Krita AI Diffusion plugin logs the ComfyUI server it runs with "%(asctime)s %(levelname)s %(message)s"
# (ai_diffusion/util.py, create_logger: its server.log, `2023-11-26 18:59:33,878 INFO got prompt`).
PY_FORMATTER_RE = lazy_re(
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:[,.](\d+))?"
    r"(?: - [\w.]+ - (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) - | (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) )"
)
# SwarmUI (mcmonkeyprojects/SwarmUI): Logs.LogWithColor writes f"{time:HH:mm:ss.fff} [{level}] {message}" to its
# console and log file, AdminAPI.LogSubmitToPastebin f"{time:yyyy-MM-dd HH:mm:ss.fff} [{level}] {message}" (the server
# log people paste); levels are Logs.LogLevel's names. NetworkBackendUtils.ReportLogsFromProcess logs each line of a
# process it started as f"[{nameSimple}/STDERR] {line}" (or STDOUT), ComfyUI's nameSimple being f"ComfyUI-{id}".
SWARM_TAGS = r"\[(?:Verbose|Debug|Info|Init|Warning|Error)\] (?:\[[^\]]+/STD(?:OUT|ERR)\] )?"
SWARM_RE = lazy_re(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})\.(\d+) " + SWARM_TAGS)
SWARM_TAGS_RE = lazy_re(SWARM_TAGS)
# The same process tag with no time and no level before it: the lines as SwarmUI's log view lets them be
# copied (mcmonkeyprojects/SwarmUI#1214: `[ComfyUI-0/STDERR] Total VRAM 12461 MB, total RAM 31863 MB`).
SWARM_PROCESS_RE = lazy_re(r"\[[^\]/\s]{1,64}/STD(?:OUT|ERR)\] ")
# ComfyUI Desktop's main.log: electron-log's default format "[{y}-{m}-{d} {h}:{i}:{s}.{ms}] [{level}]{scope} {text}",
# "[{level}]" padded to "[error]"'s width (electron-log's format.spec.js: "[{level}]~" -> "[info] ~"). The renderer
# logs each chunk of ComfyUI's output as `Received log message: ${message}` (Comfy-Org/desktop
# src/renderer/screens/ProgressOverlay.tsx), the chunk's further lines without a prefix.
ELECTRON_RE = lazy_re(r"\[(?:(?:info|warn)\]  |(?:error|debug|silly|verbose)\] )(?:Received log message: )?")
# Every write() of the log an error report holds has its own "<time> - " (ComfyUI's app/logger.py:
# LogInterceptor.write keeps {"t": datetime.now().isoformat(), "m": data}; the report joins "t - m").
# A print() writes its text and its newline separately, so the newline's own stamp ends the line, and a
# print() of several arguments glues stamps inside it (`** Platform:<t> -  <t> - Windows<t> - `).
REPORT_STAMP_RE = lazy_re(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)? - ")
# A tqdm redraw is a write that starts with "\r": pasted into a GitHub issue (the browser makes every CR a
# line break) the bar stands on a line of its own, after the lone stamp of its write and before the stamp
# of the next write. The lone stamp is the bar's time (the parser takes it: report_end); the next write may
# come much later (a 4/4 bar at 18:30 whose close came 2:13 after it: Zehong-Ma/ComfyUI-MagCache#45), so its
# stamp is the line's time only where no stamp ended the line before.
REPORT_TAIL_RE = lazy_re(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))? - $")
# runpod-python without RUNPOD_ENDPOINT_ID: f"{level.ljust(7)}| {message}", "INFO   | JOB_ID | message"
# (the job id is optional); its levels are TRACE, DEBUG, INFO, WARN, ERROR and TIP (rp_logger.py).
RUNPOD_PLAIN_RE = lazy_re(r"(?:DEBUG|INFO|WARN|WARNING|ERROR|TRACE|TIP)\s*\| (?:[^\s|]+ \| )?")
# runpod 1.12 (rp_logger.py) writes a batch job's messages as f"[batchId={batch_id}] {message}".
BATCH_ID_RE = lazy_re(r"\[batchId=[^\]]*\] ")
PY_LOGGING_RE = lazy_re(r"(?:INFO|WARNING|ERROR|DEBUG|CRITICAL):[\w.]*:")
# docker compose writes fmt.Sprintf("%-"+width+"s | ", name) before every line of a container's output, the
# name padded to one more than the longest name (docker/compose cmd/formatter/logs.go, presenter.setPrefix;
# compose 1.x, compose/cli/log_printer.py: name.ljust(width) + " |" + " "), coloured as a whole
# (\x1b[36m...\x1b[0m, cmd/formatter/colors.go: cleaning takes the codes off first). Container and service
# names are [a-zA-Z0-9][a-zA-Z0-9_.-]*. An empty line keeps "name  | ", or "name  |" once a paste trims it.
COMPOSE_RE = lazy_re(r"[A-Za-z0-9][A-Za-z0-9_.-]* +\|(?: |$)")
# runpod-python's own "INFO   | " (RUNPOD_PLAIN_RE) has the same shape: a level is never taken for a service.
COMPOSE_NOT_NAMES = frozenset({"DEBUG", "INFO", "WARN", "WARNING", "ERROR", "TRACE", "TIP", "CRITICAL"})
#: Lines of an input whose prefixes decide whether it is docker compose output: the lines read/lines.py peeks
#: at to tell a plain log (_plain_head), so that both scanners decide on the same lines.
COMPOSE_PEEK_LINES = MARKDOWN_PEEK_LINES
JSON_MAX_CHARS = 100_000
# Ray's driver prints a worker's lines as "({name }pid={pid}{, ip=...}) {line}" (ray-project/ray
# python/ray/_private/worker.py, print_worker_logs: prefix_for gives "pid=" after the actor's or task's name,
# ", ip=" when the worker is on another node), and draws a worker's ray.experimental.tqdm_ray bar with
# desc "(pid={pid}) " or "(pid={pid}, ip={ip}) " + desc + " " + str(position) (tqdm_ray.py,
# _BarManager.process_state_update and _Bar). komikndr/raylight runs ComfyUI's samplers in Ray actors and
# swaps tqdm.auto's trange for tqdm_ray's on rank 0 (src/raylight/utils/common.py, patch_ray_tqdm), so the
# sampler's unlabelled bar reaches ComfyUI's console as `(pid=3787908)  0: 100%|…| 20.0/20.0 [01:26<…]`.
RAY_RE = lazy_re(r"\((?:[A-Za-z_][A-Za-z0-9_.-]{0,63} )?pid=[0-9]{1,10}(?:, ip=[0-9A-Fa-f.:]{1,45})?\) ")


def report_end(line: str) -> datetime | None:
    """The time of the error report's stamp that ends ``line`` (`` - `` with nothing after it: the lone stamp of a
    write a line break cut from its text, or the next write's glued on). A line that lost its own stamp to a line
    break was written at the one ending the line before it (``Prefixed.cut``)."""
    if not line.endswith(" - "):
        return None
    m = REPORT_TAIL_RE.search(line)
    return _at(m.group(1), m.group(2), m.group(3)) if m is not None else None


def compose_prefixed(texts: Iterable[str]) -> bool:
    """True when ``texts`` (an input's first clean lines) are docker compose output: at least two of them,
    and at least half of those not blank, start with a service's ``name  | ``. Compose's own lines
    (``Attaching to comfyui``, ``[+] Running 1/1``) carry none; one ``word | `` line of a log is not enough."""
    filled = prefixed = 0
    for text in itertools.islice(texts, COMPOSE_PEEK_LINES):
        if not text.strip():
            continue
        filled += 1
        m = COMPOSE_RE.match(text)
        if m is not None and text[: text.index(" ")] not in COMPOSE_NOT_NAMES:
            prefixed += 1
    return prefixed >= 2 and 2 * prefixed >= filled


def without_compose(text: str) -> str:
    """``text`` without the docker compose prefix it starts with (a line of a ``compose_prefixed`` input)."""
    m = COMPOSE_RE.match(text)
    return text[m.end() :] if m is not None else text


@dataclass(slots=True)
class Prefixed:
    """A line's message with the time its prefix gave (None if it had none)."""

    text: str
    ts: datetime | None
    resolution: float
    style: str
    #: Nanoseconds past ``ts``'s microsecond (docker prints nine digits; a datetime holds six).
    nanos: int = 0
    #: ``ts`` is the stamp ending the line (an error report's line of one write that lost its own stamp to a line
    #: break): the next write's time. The parser takes the stamp that ended the line before, where there is one
    #: (``report_end``).
    cut: bool = False


def _nanos(frac: str | None) -> int:
    """The digits of a fraction past the sixth as nanoseconds: ``618719777`` -> 777."""
    return int(frac[6:9].ljust(3, "0")) if frac is not None and len(frac) > 6 else 0


def _at(date: str, hms: str, frac: str | None) -> datetime | None:
    """The time a prefix gives; None for an impossible one (month 13, 25:00): the line gets no time."""
    try:  # fromisoformat parses in C: 6x faster than building the datetime field by field (hot).
        return datetime.fromisoformat(f"{date} {hms}.{(frac or '0')[:6].ljust(6, '0')}")
    except ValueError:
        return None


def may_start_with_prefix(text: str) -> bool:
    """False when ``PrefixReader.read`` would surely leave ``text`` as it is.

    For the CR-separated states of a tqdm line (`` 50%|``, ``100%|``): most start with a digit but
    none with a date (``DDDD-``) or a time (``DD:``); a Ray worker's bar redraws with its ``(pid=N) ``.
    Keep in step with the styles ``read`` knows.
    """
    c = text[:1]
    return (c == "[" or (c != "" and c in "0123456789" and (text[2:3] == ":" or text[4:5] == "-"))
            or (c == "(" and RAY_RE.match(text) is not None))


def without_ray(text: str) -> str:
    """``text`` after Ray's worker prefix (it starts with one: ``RAY_RE``), and, for a bar Ray's tqdm drew,
    without the position Ray puts after its label: ``(pid=1)  0: 100%|`` -> ``100%|``, the unlabelled bar
    it is on the worker, and ``(pid=1) Foo 0:  50%|`` -> ``Foo:  50%|``."""
    m = RAY_RE.match(text)
    if m is None:
        return text
    rest = text[m.end() :]
    cr = rest.find("\r")
    bar = rest.find("%|", 0, len(rest) if cr < 0 else cr)  # the first state's
    digits = bar
    while digits > 0 and bar - digits < 3 and rest[digits - 1] in "0123456789":
        digits -= 1
    spaces = digits
    while spaces > 0 and rest[spaces - 1] == " ":
        spaces -= 1
    colon = spaces - 1
    if bar <= 0 or digits == bar or spaces == digits or colon < 1 or rest[colon] != ":":
        return rest
    position = colon
    while position > 0 and rest[position - 1] in "0123456789":
        position -= 1
    if position == colon or position == 0 or rest[position - 1] != " ":
        return rest
    label = rest[: position - 1]
    return label + rest[colon:] if label else rest[colon + 2 :]


class PrefixReader:
    """Strips prefixes line by line; keeps the state time-only prefixes need for midnight rollover."""

    def __init__(self) -> None:
        self._time_only_day = 0
        self._time_only_last: float | None = None

    def read(self, line: str) -> Prefixed:
        if line[14:15] == "[":
            tag = RUNPOD_WORKER_TAG_RE.match(line)
            if tag:  # no time of its own; the message may carry a prefix of its own
                rest = line[tag.end() :]
                while rest.endswith("\\n"):
                    rest = rest[:-2]
                return self.read(rest)
        ts: datetime | None = None
        resolution = FINE
        style = "none"
        nanos = 0
        text = line
        c = text[:1]
        if c.isdigit():
            m = DOCKER_RE.match(text)
            if m:
                ts, style = _at(m.group(1), m.group(2), m.group(3)), "docker"
                nanos = _nanos(m.group(3))
            else:
                m = REPORT_RE.match(text) or PY_FORMATTER_RE.match(text)
                if m:
                    ts, style = _at(m.group(1), m.group(2), m.group(3)), "error-report"
                    if text.find(" - ", m.end()) >= 0:
                        text = text[: m.end()] + REPORT_STAMP_RE.sub("", text[m.end() :])
                else:
                    m = CONSOLE_ROW_RE.match(text)
                    if m:
                        ts, style = _at(m.group("date"), m.group("hms"), m.group("frac")), "runpod-console"
                        nanos = _nanos(m.group("frac"))
                    else:
                        m = SWARM_RE.match(text)
                        if m:
                            ts, style = _at(m.group(1), m.group(2), m.group(3)), "swarmui"
                        else:
                            m = TIME_ONLY_RE.match(text)
                            if m:
                                ts, style = self._time_only(m), "time-only"
            if m:
                text = text[m.end() :]
                c = text[:1]
        if c == "[":
            m = MANAGER_RE.match(text)
            if m:
                date, hm, sec, frac = m.groups()
                inner = _at(date, hm + ":" + (sec or "00"), frac)
                if ts is None:  # a docker time wins over a Manager time written inside it
                    ts, style = inner, "manager-ms" if sec else "manager-min"
                    resolution = FINE if sec else MINUTE
                text = text[m.end() :]
            elif ts is None:
                m = TIME_ONLY_RE.match(text)
                if m and text.startswith("[") and m.group(0).rstrip().endswith("]"):
                    ts, style = self._time_only(m), "time-only"
                    text = text[m.end() :]
            c = text[:1]
        if c == "[":
            if style == "manager-ms":
                m = ELECTRON_RE.match(text) or LEVEL_TAG_RE.match(text)
            elif style == "time-only":
                m = SWARM_TAGS_RE.match(text) or LEVEL_TAG_RE.match(text)
            else:
                m = LEVEL_TAG_RE.match(text) or SWARM_PROCESS_RE.match(text)
            if m:
                text = text[m.end() :]
                c = text[:1]
        elif c == "{" and len(text) < JSON_MAX_CHARS and '"message"' in text:
            message = _json_message(text)
            if message is not None:
                text = message
                c = text[:1]
        elif (c == "{" or text.startswith("data: {")) and len(text) < JSON_MAX_CHARS and '"line"' in text:
            streamed = _stream_line(text[6:] if c == "d" else text)
            if streamed is not None:
                line_read = self.read(streamed[0])  # a container line may carry its own prefix
                if streamed[1] is None:
                    return line_read
                return Prefixed(line_read.text, streamed[1], FINE, "runpod-stream", streamed[2])
        elif c == "(":
            text = without_ray(text)
            c = text[:1]
        if c in "IWEDCT" and c != "":
            m = PY_LOGGING_RE.match(text) or RUNPOD_PLAIN_RE.match(text)
            if m:
                text = text[m.end() :]
        if style == "none" and text.endswith(" - "):
            m = REPORT_TAIL_RE.search(text)
            if m:  # a line of an error report whose stamp was cut off by a line break (a bar, pasted)
                ts, style = _at(m.group(1), m.group(2), m.group(3)), "error-report"
                text, glued = REPORT_STAMP_RE.subn("", text[: m.start()])
                # one write (no stamp inside): written at the stamp ending the line before (report_end); with
                # more writes glued, the last stamp stays the line's (where the log got to)
                return Prefixed(text, ts, resolution, style, nanos, glued == 0)
        return Prefixed(text, ts, resolution, style, nanos)

    def _time_only(self, m: re.Match[str]) -> datetime:
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
        micro = int((m.group(4) or "0")[:6].ljust(6, "0"))
        secs = h * 3600 + mi * 60 + s + micro / 1e6
        # Going back by more than an hour means the clock passed midnight.
        if self._time_only_last is not None and secs < self._time_only_last - 3600:
            self._time_only_day += 1
        self._time_only_last = secs
        return TIME_ONLY_BASE + timedelta(days=self._time_only_day, seconds=secs)


STREAM_TS_RE = lazy_re(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def _json_object(text: str) -> dict[str, object] | None:
    """``text`` as a JSON object (a log line holding one), or None."""
    stripped = text.strip()
    if not stripped.endswith("}"):
        return None
    import json  # here: few logs hold JSON lines, and json's import is ~1.5 ms of every start-up

    try:
        obj = json.loads(stripped)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _stream_line(text: str) -> tuple[str, datetime | None, int] | None:
    """The ``line``, time and nanoseconds of a RunPod log-stream event; None if ``text`` is not one.

    The time is kept as written, in UTC when it says so (RunPod's, like docker's, is UTC) and as
    local wall time when it gives no zone; an offset is applied, so every stamp of a stream is UTC.
    """
    obj = _json_object(text)
    if obj is None or "ts" not in obj:
        return None
    line = obj.get("line")
    if not isinstance(line, str):
        return None
    line = line.rstrip("\n")
    raw_ts = obj["ts"]
    m = STREAM_TS_RE.match(raw_ts.strip()) if isinstance(raw_ts, str) else None
    if m is None:
        return line, None, 0
    ts = _at(m.group(1), m.group(2), m.group(3))
    zone = m.group(4)
    if ts is not None and zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        ts -= sign * timedelta(hours=hours, minutes=minutes)
    return line, ts, _nanos(m.group(3))


def _json_message(text: str) -> str | None:
    """The ``message`` of a runpod-python JSON log line, or None if the line is not one."""
    obj = _json_object(text)
    message = obj.get("message") if obj is not None else None
    if not isinstance(message, str):
        return None
    m = BATCH_ID_RE.match(message)
    return message[m.end() :] if m else message
