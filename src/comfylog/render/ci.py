"""``comfylog check`` output: a terminal table, JSON, GitHub workflow commands (+ job summary), JUnit XML.

Log text reaches every one of these formats, so each escapes it for its own syntax: workflow
commands per GitHub's rules, markdown cells, and XML through ElementTree (with the characters XML
1.0 cannot hold removed).
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..check import CheckResult, LogCheck, Outcome
from ..text import clip_words

STATUS_STYLE = {"pass": "green", "fail": "bold red", "warn": "yellow"}
STATUS_MARK = {"pass": "✅ pass", "fail": "❌ fail", "warn": "⚠️ warn"}
#: Characters XML 1.0 cannot contain, even escaped.
XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Annotation messages longer than this are cut (GitHub shows a few lines anyway).
MAX_ANNOTATION_CHARS = 2000
#: A summary row's detail is cut (at a word) to this many characters.
SUMMARY_DETAIL_CHARS = 300


# ---- text ------------------------------------------------------------------------------------------


def render_check_text(result: CheckResult, console: Console) -> None:
    for log in result.logs:
        table = Table(title=log.path, title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("rule", no_wrap=True)
        table.add_column("result", no_wrap=True)
        table.add_column("line", justify="right")
        table.add_column("detail", overflow="fold")
        for o in log.outcomes:
            detail = o.title if o.finding is not None else o.message.split("\n", 1)[0]
            table.add_row(o.rule, Text(o.status, style=STATUS_STYLE[o.status]), str(o.line or ""), Text(detail))
        if not log.outcomes:
            table.caption = "no rules to check"
        console.print(table)
    failed = sum(len(log.failed) for log in result.logs)
    warned = sum(len(log.warned) for log in result.logs)
    verdict = Text()
    if result.passed:
        verdict.append("passed", style="bold green")
    else:
        verdict.append(f"FAILED: {failed} rule{'s' if failed != 1 else ''}", style="bold red")
    if warned:
        verdict.append(f" · {warned} warning{'s' if warned != 1 else ''}", style="yellow")
    console.print(verdict)


# ---- JSON ------------------------------------------------------------------------------------------


def check_to_dict(result: CheckResult) -> dict[str, Any]:
    o = result.options
    return {
        "passed": result.passed,
        "exit_code": result.exit_code,
        "options": {"max_total": o.max_total, "max_load": o.max_load, "max_wait": o.max_wait,
                    "max_slowdown": o.max_slowdown, "baseline": o.baseline, "fail_on": list(o.fail_on),
                    "warn_on": None if o.warn_on is None else list(o.warn_on), "config": o.config},
        "logs": [
            {
                "path": log.path,
                "passed": not log.failed,
                "outcomes": [{"rule": x.rule, "status": x.status, "title": x.title, "message": x.message,
                              "line": x.line, "value": x.value, "limit": x.limit} for x in log.outcomes],
                "findings": [{"id": f.id, "severity": f.severity, "title": f.title, "cost_s": f.cost_s,
                              "line": f.evidence[0].line if f.evidence else None} for f in log.findings],
            }
            for log in result.logs
        ],
    }


def render_check_json(result: CheckResult) -> str:
    return json.dumps(check_to_dict(result), indent=2, ensure_ascii=False)


# ---- GitHub Actions --------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped (GitHub's ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, plus ``:`` and ``,`` (``escapeProperty``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_path(path: str) -> str | None:
    """The log's path as GitHub wants it (relative to the workspace); None for standard input."""
    if path in ("-", "<stdin>"):
        return None
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and os.path.isabs(path):
        try:
            rel = os.path.relpath(path, workspace)
        except ValueError:
            return path
        return path if rel.startswith("..") else rel
    return path


def workflow_command(o: Outcome, path: str) -> str:
    """``::error file=F,line=N,title=T::message`` for a failure, ``::warning ...`` for a warning."""
    command = "error" if o.status == "fail" else "warning"
    props = []
    file = annotation_path(path)
    if file is not None:
        props.append(f"file={escape_property(file)}")
        if o.line:
            props.append(f"line={o.line}")
    props.append(f"title={escape_property(f'comfylog {o.rule}: {o.title}'[:200])}")
    message = clip_words(o.message, MAX_ANNOTATION_CHARS)
    return f"::{command} {','.join(props)}::{escape_data(message)}"


def render_check_github(result: CheckResult) -> str:
    lines = [workflow_command(o, log.path) for log in result.logs for o in log.outcomes if o.status != "pass"]
    failed = sum(len(log.failed) for log in result.logs)
    verdict = "passed" if result.passed else f"failed ({failed} rule{'s' if failed != 1 else ''})"
    lines.append(f"comfylog check: {verdict} on {len(result.logs)} log{'s' if len(result.logs) != 1 else ''}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """A markdown table cell: no pipes, no HTML, one line."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\r", " ").replace("\n", "<br>"))


def render_check_summary(result: CheckResult) -> str:
    """The markdown job summary (``$GITHUB_STEP_SUMMARY``): what failed and what warned, log by log;
    a log where everything passed is one row that says how many rules it passed."""
    head = "✅ passed" if result.passed else "❌ failed"
    failed = sum(len(log.failed) for log in result.logs)
    warned = sum(len(log.warned) for log in result.logs)
    counts = f"{failed} failure{'s' if failed != 1 else ''}, {warned} warning{'s' if warned != 1 else ''}"
    rows = [f"### comfylog check: {head} ({counts})", "", "| log | rule | result | line | detail |",
            "|---|---|---|---|---|"]
    for log in result.logs:
        shown = [o for o in log.outcomes if o.status == "fail"] + [o for o in log.outcomes if o.status == "warn"]
        for o in shown:
            detail = clip_words(o.message.split("\n", 1)[0], SUMMARY_DETAIL_CHARS)
            rows.append(f"| {_md(log.path)} | `{o.rule}` | {STATUS_MARK[o.status]} | {o.line or ''} | {_md(detail)} |")
        if not shown:
            rows.append(f"| {_md(log.path)} | all {len(log.outcomes)} rules | {STATUS_MARK['pass']} | | |")
    return "\n".join(rows) + "\n"


# ---- JUnit -----------------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return XML_INVALID_RE.sub("\ufffd", text)


def render_check_junit(result: CheckResult) -> str:
    """JUnit XML: a test suite per log, a test case per rule; failures carry the message."""
    suites = ET.Element("testsuites", name="comfylog check")
    total = failures = 0
    for log in result.logs:
        suite = ET.SubElement(suites, "testsuite", name=_xml_text(log.path), tests=str(len(log.outcomes)),
                              failures=str(len(log.failed)), errors="0", skipped="0")
        for o in log.outcomes:
            case = ET.SubElement(suite, "testcase", classname=_xml_text(f"comfylog.{_suite_name(log)}"),
                                 name=_xml_text(o.rule))
            if o.line:
                case.set("file", _xml_text(log.path))
                case.set("line", str(o.line))
            if o.status == "fail":
                failure = ET.SubElement(case, "failure", message=_xml_text(o.title), type=_xml_text(o.rule))
                failure.text = _xml_text(o.message)
            elif o.status == "warn":
                out = ET.SubElement(case, "system-out")
                out.text = _xml_text("warning: " + o.message)
        total += len(log.outcomes)
        failures += len(log.failed)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite_name(log: LogCheck) -> str:
    return os.path.basename(log.path) or log.path
