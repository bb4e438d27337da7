"""Whether the analysis stays linear when one log holds many of one thing: time and peak RSS of
``comfylog analyze --format json`` on generated logs of N and 4N items of a shape; a ratio near 4 is
linear, near 16 quadratic.

    python benchmarks/scaling.py               # every shape, N = 25,000
    python benchmarks/scaling.py --n 50000 tracebacks models

Shapes (each a log a hostile or unlucky input could be; real logs hold tens of each):
``tracebacks`` prompts that each fail with their own exception, in one run; ``imports`` custom nodes
that failed to import, each with its reason; ``models`` one prompt that requests that many models;
``bars`` one prompt with that many progress bars. Not a timed test: the numbers are for the note,
with the machine named.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HEADER = ("Total VRAM 24564 MB, total RAM 128000 MB\nDevice: cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync\n"
          "Starting server\n\nTo see the GUI go to: http://127.0.0.1:8188\n")


def tracebacks(n: int) -> Iterator[str]:
    for i in range(n):
        yield (f"got prompt\n!!! Exception during processing !!! boom {i}\nTraceback (most recent call last):\n"
               f'  File "/x/execution.py", line {i}, in execute\n    x()\nRuntimeError: boom {i}\n'
               f"Prompt executed in 0.{i % 100:02d} seconds\n")


def imports(n: int) -> Iterator[str]:
    for i in range(n):
        yield (f"Traceback (most recent call last):\nModuleNotFoundError: No module named 'mod{i}'\n\n"
               f"Cannot import /x/custom_nodes/node{i} module for custom nodes: No module named 'mod{i}'\n")
    yield "\nImport times for custom nodes:\n"
    for i in range(n):
        yield f"   0.0 seconds (IMPORT FAILED): /x/custom_nodes/node{i}\n"


def models(n: int) -> Iterator[str]:
    yield "got prompt\n"
    for i in range(n):
        yield f"Requested to load Model{i}\nloaded completely 1000.0 {i % 5000}.5 True\n"
    yield "Prompt executed in 100.00 seconds\n"


def bars(n: int) -> Iterator[str]:
    yield "got prompt\n"
    for i in range(n):
        yield f"100%|██████████| 20/20 [00:0{i % 10}<00:00,  2.{i % 10}it/s]\n"
    yield "Prompt executed in 100.00 seconds\n"


SHAPES: dict[str, Callable[[int], Iterator[str]]] = {
    "tracebacks": tracebacks, "imports": imports, "models": models, "bars": bars,
}


def run(path: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS (kB) of one analysis (GNU time)."""
    command = ["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-m", "comfylog", "analyze", str(path),
               "--format", "json", "-o", "/dev/null"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall, user, system, peak = done.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(system), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shapes", nargs="*", choices=[[], *SHAPES], default=[])
    parser.add_argument("--n", type=int, default=25_000, help="items in the smaller log (the larger has 4x)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="comfylog-scaling-") as folder:
        for shape in args.shapes or list(SHAPES):
            cpu: list[float] = []
            for n in (args.n, 4 * args.n):
                path = Path(folder) / f"{shape}-{n}.log"
                with path.open("w", encoding="utf-8") as out:
                    out.write(HEADER)
                    out.writelines(SHAPES[shape](n))
                started = time.perf_counter()
                wall, seconds, peak = run(path)
                cpu.append(seconds)
                print(f"{shape:10} n={n:>7}  {path.stat().st_size / 1e6:6.1f} MB  wall {wall:6.2f} s  "
                      f"cpu {seconds:6.2f} s  peak {peak / 1024:5.0f} MB  ({time.perf_counter() - started:.1f} s)")
            print(f"{shape:10} cpu ratio 4N/N: {cpu[1] / max(cpu[0], 1e-9):.1f} (4 is linear, 16 quadratic)")


if __name__ == "__main__":
    main()
