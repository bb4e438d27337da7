"""Soak test of ``comfylog watch``: a million lines and more through a pipe, lines per second and memory.

The log is the seeded mix of real logs that generate.py makes (restarts, thousands of prompts, DEBUG
floods, long tqdm lines), written to a temporary file and fed as fast as the pipe takes it to

    comfylog watch - --format jsonl --metrics 127.0.0.1:PORT > /dev/null

(every output that costs something per prompt: the JSON Lines, the Prometheus exporter, the live
findings every second). The watcher's resident memory is read from /proc every quarter second; the
script prints it at each tenth of the input, so a leak shows as a column that keeps growing.

Usage::

    python benchmarks/watch_soak.py                 # 1,000,000 lines
    python benchmarks/watch_soak.py --lines 3000000 --seed 7
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import DEFAULT_SEED, generate  # noqa: E402
from run import CHILD_ENV, comfylog_command, machine  # noqa: E402

#: Bytes per line of the generated mix, a little under the real figure (so one pass usually suffices).
BYTES_PER_LINE = 120
FEED_BYTES = 1 << 16


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def make_log(lines: int, seed: int, out: Path) -> int:
    """Write a generated log of at least ``lines`` lines to ``out``; the number of lines written."""
    size = lines * BYTES_PER_LINE
    while True:
        generate(size, out, seed)
        with out.open("rb") as fh:
            count = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
        if count >= lines:
            return count
        size = int(size * lines / max(count, 1) * 1.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="comfylog-soak-") as tmp:
        log = Path(tmp) / "soak.log"
        lines = make_log(args.lines, args.seed, log)
        size = log.stat().st_size
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [*comfylog_command(), "watch", "-", "--format", "jsonl", "--metrics", f"127.0.0.1:{port}"]
        samples: list[tuple[int, float]] = []  # (bytes fed, RSS MB)
        fed = [0]
        start = time.monotonic()
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=CHILD_ENV)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss = rss_mb(child.pid)
                if rss is not None:
                    samples.append((fed[0], rss))
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert child.stdin is not None
        with log.open("rb") as fh:
            while chunk := fh.read(FEED_BYTES):
                child.stdin.write(chunk)
                fed[0] += len(chunk)
        child.stdin.close()
        fed_s = time.monotonic() - start
        err = child.stderr.read().decode("utf-8", "replace") if child.stderr else ""
        code = child.wait()
        wall = time.monotonic() - start
        done.set()
        sampler.join()
    if code != 0:
        sys.exit(f"watch_soak.py: watch failed ({code}): {err.strip()[-400:]}")
    print(f"machine: {machine()}")
    print(f"input: {lines:,} lines, {size / 1e6:.0f} MB (generate.py seed {args.seed})")
    print(f"watch: {wall:.1f} s from start to exit: {lines / wall:,.0f} lines/s (the input was all in the pipe "
          f"after {fed_s:.1f} s)")
    print(f"peak RSS: {max(r for _, r in samples):.0f} MB")
    print("RSS by share of the input read (MB):")
    marks = []
    for tenth in range(1, 11):
        upto = size * tenth // 10
        seen = [r for b, r in samples if b <= upto]
        marks.append(f"{tenth * 10}%: {max(seen):.0f}" if seen else f"{tenth * 10}%: -")
    print("  " + "  ".join(marks))


if __name__ == "__main__":
    main()
