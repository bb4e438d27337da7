"""``comfylog watch http://...`` against a stand-in ComfyUI (tests/comfyui_replay.py: ComfyUI's routes and
message shapes, quoted in tests/fixtures/comfyui-messages.json) replaying a real log's console writes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from comfylog.watch.server import LogJoiner, NodeTimer, manager_prefix

from .cli import run_cli
from .comfyui_replay import ReplayComfyUI, console_writes, fixture
from .conftest import corpus_or_skip
from .test_watch import PARTIAL_OOM, Watcher

CLIENT = "comfylog-test-client"


def test_console_writes_join_into_the_log_comfyui_manager_writes() -> None:
    """app/logger.py's entries (a print is two writes) joined as Manager's file writer joins them."""
    corpus_or_skip()
    entries, log = console_writes(PARTIAL_OOM)
    assert any(e["m"] == "\n" for e in entries)  # print()'s newline, a write of its own
    assert LogJoiner().text(entries).encode() == log
    assert manager_prefix("2024-11-12T10:11:08.993417") == "[2024-11-12 10:11:08.993] "
    assert manager_prefix("2024-11-12T10:11:08") == "[2024-11-12 10:11:08.000] "


def test_nodes_are_timed_on_receipt() -> None:
    timer = NodeTimer()
    for kind, data, now in (
        ("execution_start", {"prompt_id": "p"}, 0.0),
        ("execution_cached", {"nodes": ["4"], "prompt_id": "p"}, 0.1),
        ("executing", {"node": "3", "display_node": "3", "prompt_id": "p"}, 0.5),
        ("executing", {"node": "8", "display_node": "8", "prompt_id": "p"}, 2.5),
        ("execution_success", {"prompt_id": "p"}, 3.0),
        ("executing", {"node": None, "prompt_id": "p"}, 3.1),
    ):
        timer.message(kind, data, now)
    rows = [t.row() for t in timer.take()]
    assert rows == [
        {"prompt_id": "p", "node": "4", "display_node": None, "seconds": None, "cached": True},
        {"prompt_id": "p", "node": "3", "display_node": "3", "seconds": 2.0, "cached": False},
        {"prompt_id": "p", "node": "8", "display_node": "8", "seconds": 0.5, "cached": False},
    ]


def test_watch_a_running_comfyui(tmp_path: Path) -> None:
    """The start-up is in the console buffer; the prompt comes over the websocket as it runs. Ctrl-C: the
    report analyze prints for the same console, and the nodes timed."""
    corpus_or_skip()
    entries, log = console_writes(PARTIAL_OOM)
    ready = next(i for i, e in enumerate(entries) if "To see the GUI" in e["m"]) + 1
    messages = fixture()
    server = ReplayComfyUI(messages["system_stats"], entries[:ready])
    watcher = Watcher(f"http://127.0.0.1:{server.port}", "--client-id", CLIENT, "--poll", "0.05")
    try:
        watcher.wait_for("run 1 ready: NVIDIA GeForce GTX 1070 Ti")  # from the buffer, before any stream
        deadline = time.monotonic() + 30
        while CLIENT not in server.subscribed or CLIENT not in server.sockets:
            assert time.monotonic() < deadline, "watch never subscribed to the console stream"
            time.sleep(0.02)
        rest = entries[ready:]
        received = next(i for i, e in enumerate(rest) if "got prompt" in e["m"]) + 1
        ends = next(i for i, e in enumerate(rest) if "Prompt executed in" in e["m"])
        server.write(rest[:received])
        prompt_id = "6f2c2a4e-0d53-4c1b-9a57-2f0b6e1f6c11"
        for message in messages["prompt"]:
            data = json.loads(json.dumps(message["data"]).replace("PROMPT", prompt_id))
            if message["type"] == "execution_error":
                for i in range(received, ends, 10):  # the console as the prompt runs
                    server.write(rest[i : min(i + 10, ends)])
            server.send(message["type"], data, None if message["to"] == "all" else CLIENT)
            time.sleep(message.get("then_sleep_s", 0))
        server.write(rest[ends:])
        watcher.wait_for("prompt 1 error")
        watcher.wait_for("node 14:")
    finally:
        code, out, err = watcher.stop()
        server.close()
    assert code == 0, err
    (tmp_path / "console.log").write_bytes(log)
    analyze = run_cli("analyze", str(tmp_path / "console.log"), columns=100, process=True).stdout.decode()
    assert analyze.split("\n", 1)[1] in out  # the same report (its first line names the source)
    assert f"comfylog http://127.0.0.1:{server.port}\n" in out
    assert f"prompt {prompt_id[:8]} node 4: cached" in out
    node_11 = re.search(rf"prompt {prompt_id[:8]} node 11: ([\d.]+)s", out)
    assert node_11 is not None and float(node_11.group(1)) >= 0.3  # it ran from its executing to node 14's
