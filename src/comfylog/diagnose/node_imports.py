"""Tracebacks a custom node printed while ComfyUI loaded the custom nodes at start-up.

A node pack that imports its parts one by one (comfyui_controlnet_aux's ``load_nodes``) catches a part
that fails, prints its traceback and loads the rest: the log shows a traceback between the prestartup
times and ``Import times for custom nodes:``, and the node in that list without ``(IMPORT FAILED)``.
That is an import failure of a part of the node, not an exception of a prompt or of the server:
``import-failed`` tells it ("loaded in part"), and ``exception`` leaves it alone. A traceback of a node
that did fail to import is that failure's, told by ``import-failed`` already.
"""

from __future__ import annotations

from ..dataclass import dataclass
from ..events import Event, EventKind
from ..model import ErrorRecord, Run
from ..text import basename
from .evidence import event_line
from .facts import Facts


@dataclass(frozen=True, slots=True)
class NodeImportError:
    """An exception a custom node raised while it was loaded, and whether the node loaded anyway."""

    record: ErrorRecord
    #: The node's folder name, from the traceback's ``custom_nodes/NAME/`` frame.
    node: str
    #: The node is in the import times without ``(IMPORT FAILED)``: only a part of it is missing.
    loaded: bool
    #: Its traceback (the line with the exception is the one to cite).
    traceback: Event


def node_import_errors(facts: Facts) -> dict[tuple[int, int], NodeImportError]:
    """Exceptions raised while the custom nodes loaded, by (source, line) of their record."""
    return facts.once("node_import_errors", lambda: _scan(facts))


def _scan(facts: Facts) -> dict[tuple[int, int], NodeImportError]:
    found: dict[tuple[int, int], NodeImportError] = {}
    for record in facts.errors_in("exception"):  # filed by kind: not a pass over every error
        if record.prompt is not None:
            continue
        run = facts.run_at(record.source, record.line)
        if run is None or not run.import_times or not _while_nodes_load(run, record.line):
            continue
        end = record.end_line or record.line
        tracebacks = [ev for ev in facts.between(EventKind.TRACEBACK, record.source, record.line, end)
                      if event_line(ev)[0] <= end]
        named = next((ev for ev in reversed(tracebacks) if ev.fields.get("custom_node")), None)
        if named is None:
            continue  # no custom node's frame: ComfyUI's own start-up code, which the exception rule tells
        node = str(named.fields["custom_node"])
        listed = [failed for _, path, failed, _ in run.import_times if basename(path) == node]
        if listed:
            telling = [ev for ev in tracebacks if record.message[:60] in event_line(ev)[1]]  # the record's own
            found[(record.source, record.line)] = NodeImportError(record, node, not any(listed),
                                                                  (telling or tracebacks)[0])
    return found


def _while_nodes_load(run: Run, line: int) -> bool:
    """``line`` comes after the run's prestartup times (custom nodes load after them) and before its
    ``Import times for custom nodes:`` list (printed once they all loaded)."""
    after = max((entry[3] for entry in run.prestartup_times), default=run.first_line)
    return after < line < min(entry[3] for entry in run.import_times)
