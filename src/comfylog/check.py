"""``comfylog check``: pass/fail rules over logs, for CI.

Rules are limits on every prompt (``max_total``, ``max_load``, ``max_wait`` seconds), a limit on the
slowdown against a baseline log (``max_slowdown``, a ratio of totals), and findings that fail the
check (``fail_on``) or only warn (``warn_on``). They come from the command line and from an
optional config file: ``comfylog.toml`` (top-level keys) or ``[tool.comfylog]`` in
``pyproject.toml``, looked up in the working directory; the command line wins. Each log is checked
on its own; the result holds one outcome per rule and log, and the exit code: 0 pass, 1 a rule
failed (2, unusable input or options, is raised as ConfigError / UnusableInput before any check).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from .dataclass import dataclass
from .diagnose import RULES, prompt_seconds
from .model import Finding, Prompt, Report
from .read.redact import Redactor
from .text import fmt_s, signed_dur

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the backport (a dependency there)
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

#: Rules of the check itself that ``--fail-on`` / ``--warn-on`` name beside finding ids.
CHECK_RULES = {
    "no-success": "the log holds prompts and none of them succeeded",
}
#: What fails a check unless told otherwise: ComfyUI never became ready, no prompt succeeded, the run
#: died or did not finish (staging-overcommit is an OOM, container-ram, comfyui-killed and comfyui-died a silent
#: death, told instead of oom / oom-suspected / unfinished), ComfyUI runs no prompt any more (prompt-worker-died:
#: its queue thread is gone; gpu-fault: a GPU kernel faulted, and every later GPU call of the process fails;
#: desktop-exited: the server ComfyUI Desktop started exited), the job failed or lost its output (result-not-returned:
#: RunPod never got it), PyTorch has no kernels for the GPU (gpu-unsupported: a worker that dies at its fitness
#: check runs no prompt), ComfyUI refused its command line (args-refused). Every other
#: finding of severity warning or error (an exception in one prompt of many, validation failures, partial loads)
#: warns.
DEFAULT_FAIL_ON = ("startup-failed", "no-success", "oom", "oom-suspected", "restart-loop", "unfinished",
                   "staging-overcommit", "container-ram", "comfyui-died", "handler-error", "output-dropped",
                   "gpu-unsupported", "worker-unhealthy", "prompt-worker-died", "gpu-fault", "desktop-exited",
                   "comfyui-killed", "result-not-returned", "crash", "args-refused")
#: Of those, the ones that fail a check only as errors and warn as warnings: args-refused is an error when the
#: log's last launch was refused (ComfyUI never ran) and a warning when ComfyUI started after; restart-loop an error
#: when start-ups failed or prompts were cut off, a warning for starts while idle (by hand, or a launcher's).
FAIL_AS_ERROR_ONLY = frozenset({"args-refused", "restart-loop"})
#: Config keys and what they hold (``-`` and ``_`` are the same in key names).
CONFIG_KEYS = {
    "max_total": "seconds", "max_load": "seconds", "max_wait": "seconds", "max_slowdown": "ratio",
    "baseline": "path", "fail_on": "ids", "warn_on": "ids",
}
CONFIG_FILE = "comfylog.toml"
#: How each limit reads a prompt.
LIMITS: dict[str, tuple[str, Callable[[Prompt], float | None]]] = {
    "max-total": ("total", lambda p: prompt_seconds(p) if (p.total_s is not None or p.executed_s is not None)
                  else None),
    "max-load": ("load", lambda p: p.phases.load if p.total_s is not None else None),
    "max-wait": ("wait", lambda p: p.phases.wait if p.total_s is not None else None),
}


class ConfigError(ValueError):
    """Options or a config file that cannot be used; the message is one line for the user (exit 2)."""


@dataclass
class CheckOptions:
    """The rules of one check, resolved from the command line, the config file and the defaults."""

    max_total: float | None = None
    max_load: float | None = None
    max_wait: float | None = None
    max_slowdown: float | None = None
    baseline: str | None = None
    fail_on: tuple[str, ...] = DEFAULT_FAIL_ON
    #: Findings that warn; None: every other finding of severity warning or error warns.
    warn_on: tuple[str, ...] | None = None
    #: The config file the options were read from, if any.
    config: str | None = None

    def limit(self, rule: str) -> float | None:
        return {"max-total": self.max_total, "max-load": self.max_load, "max-wait": self.max_wait}[rule]


@dataclass
class Outcome:
    """One rule applied to one log: ``pass``, ``fail`` or ``warn``, with the line it points at."""

    rule: str  # max-total, max-load, max-wait, max-slowdown, or a finding id
    status: str
    title: str
    message: str
    line: int | None = None
    value: float | None = None
    limit: float | None = None
    finding: Finding | None = None


@dataclass
class LogCheck:
    """A log's outcomes and every finding it has."""

    path: str
    outcomes: list[Outcome]
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "fail"]

    @property
    def warned(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "warn"]


@dataclass
class CheckResult:
    logs: list[LogCheck]
    options: CheckOptions

    @property
    def passed(self) -> bool:
        return not any(log.failed for log in self.logs)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


# ---- options ------------------------------------------------------------------------------------


def find_config(cwd: Path, explicit: str | None = None) -> tuple[dict[str, Any], Path | None]:
    """The config's settings and the file they came from: ``explicit``, else ``comfylog.toml``, else
    ``[tool.comfylog]`` of ``pyproject.toml`` in ``cwd``; ({}, None) when there is none."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{explicit}: no such config file")
        data = _read_toml(path)
        table = data.get("tool", {}).get("comfylog", {}) if path.name == "pyproject.toml" else data
        return _table(table, path), path
    path = cwd / CONFIG_FILE
    if path.is_file():
        return _table(_read_toml(path), path), path
    path = cwd / "pyproject.toml"
    if path.is_file():
        tool = _read_toml(path).get("tool", {})
        if isinstance(tool, dict) and "comfylog" in tool:
            return _table(tool["comfylog"], path), path
    return {}, None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None


def _table(value: Any, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: the comfylog settings must be a table of keys")
    out = {}
    for key, item in value.items():
        name = str(key).replace("-", "_")
        if name not in CONFIG_KEYS:
            known = ", ".join(k.replace("_", "-") for k in CONFIG_KEYS)
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {known})")
        out[name] = item
    return out


def resolve_options(cli: dict[str, Any], config: dict[str, Any], config_path: Path | None) -> CheckOptions:
    """Command-line values (None: not given) over config values over defaults, all validated."""
    where = str(config_path) if config_path else "config"
    opts = CheckOptions(config=str(config_path) if config_path else None)
    for key in ("max_total", "max_load", "max_wait", "max_slowdown"):
        value = cli.get(key)
        source = "--" + key.replace("_", "-")
        if value is None and key in config:
            value, source = config[key], f"{where}: {key}"
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: expected a number, got {value!r}")
        if value < 0 or (key == "max_slowdown" and value <= 0):
            raise ConfigError(f"{source}: must be positive, got {value}")
        setattr(opts, key, float(value))
    baseline = cli.get("baseline")
    if baseline is None and config.get("baseline") is not None:
        if not isinstance(config["baseline"], str):
            raise ConfigError(f"{where}: baseline: expected a path, got {config['baseline']!r}")
        base_dir = config_path.parent if config_path else Path(".")
        baseline = str(base_dir / config["baseline"]) if not os.path.isabs(config["baseline"]) else config["baseline"]
    opts.baseline = baseline
    if opts.max_slowdown is not None and not opts.baseline:
        raise ConfigError("--max-slowdown needs a baseline log: --baseline PATH (or baseline = ... in the config)")
    fail_given = cli.get("fail_on") is not None or "fail_on" in config
    fail_on = _ids(cli.get("fail_on"), "--fail-on") if cli.get("fail_on") is not None else (
        _ids(config["fail_on"], f"{where}: fail_on") if "fail_on" in config else DEFAULT_FAIL_ON)
    warn_on: tuple[str, ...] | None = None
    if cli.get("warn_on") is not None:
        warn_on = _ids(cli["warn_on"], "--warn-on")
    elif "warn_on" in config:
        warn_on = _ids(config["warn_on"], f"{where}: warn_on")
    if warn_on:
        both = [i for i in warn_on if i in fail_on]
        if both and fail_given:
            raise ConfigError(f"finding {both[0]!r} is both in fail-on and warn-on")
        fail_on = tuple(i for i in fail_on if i not in warn_on)  # --warn-on demotes a default
    opts.fail_on, opts.warn_on = fail_on, warn_on
    return opts


def _ids(value: Any, source: str) -> tuple[str, ...]:
    """Finding ids from a list or comma-separated strings; ``none`` (alone) means no ids."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{source}: expected finding ids (a list of strings), got {value!r}")
    ids = [part.strip() for item in items for part in item.split(",") if part.strip()]
    if ids == ["none"]:
        return ()
    for finding_id in ids:
        if finding_id not in RULES and finding_id not in CHECK_RULES:
            raise ConfigError(f"{source}: unknown finding id {finding_id!r} (known: {', '.join(known_ids())})")
    return tuple(dict.fromkeys(ids))


def known_ids() -> list[str]:
    """Every id ``--fail-on`` and ``--warn-on`` take: the check's own rules, then the findings."""
    return [*CHECK_RULES, *RULES]


# ---- checking -----------------------------------------------------------------------------------


def check_reports(
    reports: Sequence[tuple[str, Report]], options: CheckOptions, baseline: Report | None = None
) -> CheckResult:
    """Apply ``options`` to each (path, report); ``baseline`` is needed for ``max_slowdown``."""
    return CheckResult([_check_one(path, report, options, baseline) for path, report in reports], options)


def check_logs(
    paths: Sequence[str], options: CheckOptions, redactor: Redactor | None = None,
    progress: Callable[[str, float, float | None], None] | None = None,
) -> CheckResult:
    """Analyse each log on its own (and the baseline) and check them; UnusableInput propagates.

    With a ``redactor`` the logs are read redacted (redact.py); the paths stay as given (GitHub
    annotations need them). ``progress`` is told how reading each log goes.
    """
    from .index import comfyui_sources, not_comfyui_reason
    from .pipeline import analyze_paths
    from .read.source import UnusableInput

    reports = [(path, analyze_paths([path], redactor, progress)) for path in paths]
    for _, report in reports:
        if not comfyui_sources(report):
            raise UnusableInput(not_comfyui_reason(report, 0))
    baseline = analyze_paths([options.baseline], redactor, progress) if options.baseline else None
    return check_reports(reports, options, baseline)


def _check_one(path: str, report: Report, options: CheckOptions, baseline: Report | None) -> LogCheck:
    outcomes: list[Outcome] = []
    for rule in LIMITS:
        limit = options.limit(rule)
        if limit is not None:
            outcomes.append(_limit_outcome(rule, limit, report))
    if options.max_slowdown is not None and baseline is not None:
        outcomes.append(_slowdown_outcome(options.max_slowdown, report, baseline))
    present: dict[str, Finding] = {}
    for f in report.findings:
        present.setdefault(f.id, f)
    for finding_id in options.fail_on:
        outcomes.append(_rule_outcome(finding_id, present, report, "fail"))
    warn_ids: Iterable[str]
    if options.warn_on is not None:
        warn_ids = options.warn_on
    else:
        warn_ids = [i for i, f in present.items() if i not in options.fail_on and f.severity in ("error", "warning")]
    for finding_id in warn_ids:
        outcomes.append(_rule_outcome(finding_id, present, report, "warn"))
    return LogCheck(path, outcomes, list(report.findings))


def _limit_outcome(rule: str, limit: float, report: Report) -> Outcome:
    what, read = LIMITS[rule]
    timed = [(p, v) for p in report.prompts if (v := read(p)) is not None]
    over = [(p, v) for p, v in timed if v > limit]
    worst = max((v for _, v in timed), default=None)
    if not over:
        message = (f"every prompt's {what} is within {_secs(limit)} (longest {_secs(worst)})" if timed
                   else f"no timed prompt: nothing to hold to {_secs(limit)}")
        return Outcome(rule, "pass", f"{what} within {_secs(limit)}", message, value=worst, limit=limit)
    shown = ", ".join(f"prompt {p.index + 1}: {_secs(v)}" for p, v in over[:5]) + (" …" if len(over) > 5 else "")
    first = over[0][0]
    return Outcome(
        rule, "fail", f"{what} over {_secs(limit)}",
        f"{len(over)} of {len(timed)} prompts took longer than {_secs(limit)} of {what}: {shown}",
        line=first.line, value=worst, limit=limit,
    )


def _slowdown_outcome(limit: float, report: Report, baseline: Report) -> Outcome:
    from .compare import CompareError, compare_reports, ratio_text

    try:
        c = compare_reports(report, baseline)
    except CompareError as exc:
        return Outcome("max-slowdown", "fail", "cannot compare with the baseline", str(exc), limit=limit)
    ratio = c.total.ratio
    first = next((p for p in report.prompts if p.index == c.run_prompts[0]), None)
    line = first.line if first else None
    detail = f"{_secs(c.total.run)} vs {_secs(c.total.baseline)} in the baseline ({ratio_text(c.total)})"
    if c.main_phase and c.main_phase_gap_s is not None and c.gap_s:
        whole = "more than all" if c.main_phase_gap_s / c.gap_s > 1 else "of"
        detail += (f"; most of the difference is {c.main_phase}: {signed_dur(c.main_phase_gap_s)} {whole} "
                   f"{signed_dur(c.gap_s)}")
        if c.explaining:
            detail += " (" + ", ".join(f.id for f in c.explaining) + ")"
    if ratio is None:
        return Outcome("max-slowdown", "fail", "no baseline time", detail, line=line, limit=limit)
    if ratio > limit:
        return Outcome("max-slowdown", "fail", f"{ratio:.2f}x slower than the baseline (limit {limit:g}x)", detail,
                       line=line, value=ratio, limit=limit)
    return Outcome("max-slowdown", "pass", f"within {limit:g}x of the baseline", detail, line=line, value=ratio,
                   limit=limit)


def _rule_outcome(rule_id: str, present: dict[str, Finding], report: Report, status: str) -> Outcome:
    if rule_id == "no-success":
        return _success_outcome(report, status)
    found = present.get(rule_id)
    if status == "fail" and found is not None and rule_id in FAIL_AS_ERROR_ONLY and found.severity != "error":
        status = "warn"
    return _finding_outcome(rule_id, found, status)


def _success_outcome(report: Report, status: str) -> Outcome:
    """``no-success``: a log whose prompts all failed, were refused or never finished."""
    counts: dict[str, int] = {}
    first: Prompt | None = None
    for prompt in report.prompts:
        counts[prompt.status] = counts.get(prompt.status, 0) + 1
        first = first or prompt
    total = sum(counts.values())
    ok = counts.get("ok", 0)
    if not total:
        return Outcome("no-success", "pass", "no prompt in the log", "no prompt in the log: nothing to succeed")
    if ok:
        return Outcome("no-success", "pass", f"{ok} of {total} prompts succeeded",
                       f"{ok} of {total} prompts succeeded", value=float(ok))
    how = ", ".join(f"{n} {name}" for name, n in counts.items())
    return Outcome("no-success", status, f"none of {total} prompts succeeded",
                   f"none of the log's {total} prompts succeeded ({how})", line=first.line if first else None,
                   value=0.0)


def _finding_outcome(finding_id: str, finding: Finding | None, status: str) -> Outcome:
    if finding is None:
        return Outcome(finding_id, "pass", f"no {finding_id}", f"no {finding_id} finding")
    line = finding.evidence[0].line if finding.evidence else None
    message = f"{finding.title}. {finding.why}"
    if finding.advice:
        message += "\n" + "\n".join(f"→ {a}" for a in finding.advice[:2])
    return Outcome(finding_id, status, finding.title, message, line=line, value=finding.cost_s, finding=finding)


def _secs(seconds: float | None) -> str:
    """A prompt's time or a limit as every report writes durations (text.dur): one span, one reading."""
    return fmt_s(seconds)
