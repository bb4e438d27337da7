"""Time comfylog against lnav and grep on the same files, in the same run, and print the ratios.

    python benchmarks/generate.py            # once: data/bench-100mb.log and data/bench-1gb.log
    python benchmarks/run.py                 # every data/bench-*.log, plus start-up on a small log
    python benchmarks/run.py --repeat 3 benchmarks/data/bench-100mb.log
    python benchmarks/run.py --outputs       # terminal and HTML reports against --format json

For each file:

* ``comfylog analyze --format json FILE`` (the full analysis, findings included);
* ``lnav -n -c ';SELECT count(*) FROM all_logs' FILE``: lnav indexes the whole file (formats,
  timestamps, levels) before it answers; checked with lnav 0.11.1 (Debian), where ``-n`` runs
  headless and the query's count proves the file was read;
* ``grep -c -E 'got prompt|Prompt executed in|...'``: the floor, one pass for the key phrases;
* the Python floor: the same interpreter reading every line of the file and running one regex
  search (the key phrases) on each, doing nothing else. No Python line parser can beat it, so
  its ratio to lnav bounds what pure Python can reach here (``py floor/lnav``).

Times are wall seconds (best of ``--repeat``); peak RSS comes from GNU time (``/usr/bin/time -v``,
Debian package ``time``). Ratios are comfylog / lnav and comfylog / grep. Start-up is
``comfylog analyze`` (terminal report) on a log of at most 100 kB, including the interpreter, best
of three after a warm-up run.

``--outputs`` times the outputs of one analysis on data/corpus-20mb.log (generate.py
--concat: the real logs one after the other, many runs): ``--format json``, the terminal report
(``-o FILE``, rich drawing every table), ``comfylog report`` (HTML), the markdown reply and the
trace (``export --format trace``); every output must cost time linear in the log, the terminal and
the markdown at most 1.5x, the HTML and the trace at most 2x the JSON run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
SMALL_LOG = ROOT / "examples" / "runpod-lowvram-gguf.log"
KEY_PHRASES = (
    "got prompt|Prompt executed in|loaded partially|loaded completely|lowvram: loaded module regularly"
    "|Websocket receive timed out|out of memory|OutOfMemoryError|Traceback \\(most recent call last\\)"
    "|To see the GUI go to|== CUDA =="
)
GNU_TIME = "/usr/bin/time"
TARGET_RATIO = 1.0
TARGET_RSS_MB = 200
TARGET_STARTUP_S = 0.25
#: The outputs against --format json on the same file (README, "Speed and memory on long logs").
TARGET_OUTPUTS = {"terminal": 1.5, "html": 2.0, "markdown": 1.5, "trace": 2.0}
CONCAT_LOG = DATA / "corpus-20mb.log"
#: The Python floor (see above): a line loop with one compiled search per line, and nothing else.
PYTHON_FLOOR = (
    "import re, sys\n"
    "search = re.compile(sys.argv[2].encode()).search\n"
    "hits = 0\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    for line in f:\n"
    "        if search(line):\n"
    "            hits += 1\n"
    "print(hits)\n"
)


def comfylog_command() -> list[str]:
    exe = Path(sys.executable).with_name("comfylog")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "comfylog"]


#: Commands run as installed: with PYTHONDONTWRITEBYTECODE set (as in some sandboxes), every start
#: would compile comfylog's sources again (~70 ms) where a pip install has them compiled once.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd`` under GNU time; (wall seconds, peak RSS in MB, its standard output)."""
    proc = subprocess.run([GNU_TIME, "-v", *cmd], capture_output=True, text=True, errors="replace", env=CHILD_ENV)
    if proc.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if not wall or not rss:
        sys.exit(f"run.py: cannot read GNU time's report for {cmd[0]}")
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) / 1024, proc.stdout


def best(cmd: list[str], repeat: int) -> tuple[float, float, str]:
    runs = [timed(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def lnav_version() -> str:
    proc = subprocess.run(["lnav", "-V"], capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description="comfylog vs lnav vs grep, same files, same run.")
    parser.add_argument("files", nargs="*", type=Path, help="logs to time (default: benchmarks/data/bench-*.log)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the best wall time counts")
    parser.add_argument("--outputs", action="store_true",
                        help=f"time the terminal and HTML reports against JSON on {CONCAT_LOG.name} instead")
    args = parser.parse_args()
    if args.outputs:
        outputs(args.files[0] if args.files else CONCAT_LOG, args.repeat)
        return
    for tool in ("lnav", "grep", GNU_TIME):
        if shutil.which(tool) is None:
            sys.exit(f"run.py: {tool} not found (apt-get install lnav grep time)")
    files = args.files or sorted(DATA.glob("bench-*.log"), key=lambda p: p.stat().st_size)
    if not files:
        sys.exit("run.py: no benchmark logs: run python benchmarks/generate.py first")
    comfylog = comfylog_command()
    print(f"machine: {machine()}; {lnav_version()}")
    ok = True

    timed([*comfylog, "analyze", "--format", "json", str(SMALL_LOG)])  # warm-up: bytecode written, files cached
    startup = min(timed([*comfylog, "analyze", str(SMALL_LOG)])[0] for _ in range(max(args.repeat, 3)))
    small_kb = SMALL_LOG.stat().st_size / 1000
    verdict = "ok" if startup <= TARGET_STARTUP_S else "MISSED"
    ok &= startup <= TARGET_STARTUP_S
    print(f"start-up: comfylog analyze {SMALL_LOG.name} ({small_kb:.0f} kB): {startup:.3f} s "
          f"(target <= {TARGET_STARTUP_S} s: {verdict})")

    header = f"{'file':<22}{'MB':>7}{'comfylog s':>12}{'lnav s':>9}{'grep s':>9}{'/lnav':>8}{'/grep':>8}"
    header += f"{'comfylog MB':>13}{'lnav MB':>9}{'py floor s':>12}{'floor/lnav':>12}"
    print(header)
    ratio_ok = rss_ok = True
    for path in files:
        size_mb = path.stat().st_size / 1e6
        ours = best([*comfylog, "analyze", "--format", "json", str(path)], args.repeat)
        lnav = best(["lnav", "-n", "-c", ";SELECT count(*) FROM all_logs", str(path)], args.repeat)
        grep = best(["grep", "-c", "-E", KEY_PHRASES, str(path)], args.repeat)
        floor = best([sys.executable, "-c", PYTHON_FLOOR, str(path), KEY_PHRASES], args.repeat)
        if not re.search(r"\d", lnav[2]):
            sys.exit(f"run.py: lnav printed no count for {path}: {lnav[2]!r}")
        vs_lnav, vs_grep = ours[0] / lnav[0], ours[0] / max(grep[0], 1e-3)
        print(f"{path.name:<22}{size_mb:>7.0f}{ours[0]:>12.2f}{lnav[0]:>9.2f}{grep[0]:>9.2f}{vs_lnav:>8.2f}"
              f"{vs_grep:>8.1f}{ours[1]:>13.0f}{lnav[1]:>9.0f}{floor[0]:>12.2f}{floor[0] / lnav[0]:>12.2f}")
        ratio_ok &= vs_lnav <= TARGET_RATIO
        rss_ok &= ours[1] < TARGET_RSS_MB
    print(f"target comfylog/lnav <= {TARGET_RATIO}: {'met' if ratio_ok else 'MISSED'}; "
          f"target comfylog peak RSS < {TARGET_RSS_MB} MB: {'met' if rss_ok else 'MISSED'}; "
          f"start-up: {'met' if ok else 'MISSED'} (see README, Speed and memory on long logs)")


def outputs(path: Path, repeat: int) -> None:
    """The terminal and HTML reports of ``path`` against its JSON, in one run: each output's cost."""
    if not path.exists():
        sys.exit(f"run.py: {path} not found: run python benchmarks/generate.py --concat first")
    comfylog = comfylog_command()
    out = DATA / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; file {path.name} ({path.stat().st_size / 1e6:.0f} MB)")
    json_s = best([*comfylog, "analyze", "--format", "json", "-o", str(out / "report.json"), str(path)], repeat)
    rows = [("json", json_s, None)]
    terminal = best([*comfylog, "analyze", "-o", str(out / "report.txt"), str(path)], repeat)
    rows.append(("terminal", terminal, TARGET_OUTPUTS["terminal"]))
    html = best([*comfylog, "report", "-o", str(out / "report.html"), str(path)], repeat)
    rows.append(("html", html, TARGET_OUTPUTS["html"]))
    # --no-redact: the reply is redacted by default, and redaction is the reading's cost, not the output's
    markdown = best([*comfylog, "analyze", "--format", "markdown", "--no-redact", "-o", str(out / "reply.md"),
                     str(path)], repeat)
    rows.append(("markdown", markdown, TARGET_OUTPUTS["markdown"]))
    trace = best([*comfylog, "export", "--format", "trace", "-o", str(out / "report.trace.json"), str(path)], repeat)
    rows.append(("trace", trace, TARGET_OUTPUTS["trace"]))
    print(f"{'output':<10}{'seconds':>9}{'peak MB':>9}{'/json':>7}  target")
    for name, (seconds, rss, _), target in rows:
        ratio = seconds / json_s[0]
        verdict = "" if target is None else f"<= {target}x: {'met' if ratio <= target else 'MISSED'}"
        print(f"{name:<10}{seconds:>9.2f}{rss:>9.0f}{ratio:>7.2f}  {verdict}")


if __name__ == "__main__":
    main()
