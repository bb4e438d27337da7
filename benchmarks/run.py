"""Time comfylog against lnav, grep and ripgrep on the same files, in the same run, and print the ratios.

    python benchmarks/generate.py            # once: data/bench-100mb.log and data/bench-1gb.log
    python benchmarks/generate.py --concat --size 256MB   # once: data/corpus-256mb.log
    python benchmarks/run.py                 # every data/bench-*.log and data/corpus-*.log, start-up
    python benchmarks/run.py --repeat 3 benchmarks/data/bench-100mb.log
    python benchmarks/run.py --outputs       # terminal and HTML reports against --format json
    python benchmarks/run.py --fleet 1000    # a fleet of 1,000 corpus logs, each scanner

For each file:

* ``comfylog analyze --format json FILE`` (the full analysis, findings included), once with each
  configuration: ``native`` (comfylog._native, when installed: the default, the native scanner and the
  Rust segmenter), ``py-seg`` (the native scanner with Python's segmenter, ``COMFYLOG_SEGMENTER=python``)
  and ``python`` (``COMFYLOG_SCANNER``);
* ``lnav -n -c ';SELECT count(*) FROM all_logs' FILE``: lnav indexes the whole file (formats,
  timestamps, levels) before it answers; checked with lnav 0.11.1 (Debian), where ``-n`` runs
  headless and the query's count proves the file was read;
* ``grep -c -E 'got prompt|Prompt executed in|...'`` and ``rg -c`` (ripgrep): the floor, one pass
  for the key phrases;
* with ``--floor``, the Python floor: the same interpreter reading every line of the file and
  running one regex search (the key phrases) on each, doing nothing else. No Python line parser
  can beat it, so its ratio to lnav bounds what pure Python can reach here.

Times are wall seconds (best of ``--repeat``; ``--outputs`` also gives CPU seconds, user + system,
best of ``--repeat``, and the load average); peak RSS comes from GNU time (``/usr/bin/time -v``,
Debian package ``time``). Ratios are comfylog / lnav and comfylog / grep. Start-up is
``comfylog analyze`` (terminal report) on a log of at most 100 kB, including the interpreter, best
of three after a warm-up run, with each scanner.

``--fleet N`` copies the corpus logs and scenarios round-robin into data/fleet-N/ and times
``comfylog analyze --format json DIR`` (one summary row per log, two worker processes) with each
scanner.

``--outputs`` times the outputs of one analysis on data/corpus-256mb.log (generate.py
--concat: the real logs one after the other, many runs): ``--format json``, the terminal report
(``-o FILE``, rich drawing every table), ``comfylog report`` (HTML), the markdown reply, the
trace (``export --format trace``) and ``comfylog compare`` of the log with itself (two analyses,
every prompt paired); every output must cost time linear in the log, the terminal and the markdown
at most 1.5x, the HTML and the trace at most 2x, the comparison at most 3x the JSON run (two
analyses, then a pass over the prompts, bars and loads of both), and each at most TARGET_RSS_MB of
peak memory.
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
from typing import NamedTuple

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
TARGET_STARTUP_S = 0.2
CORPUS = ROOT.parent / "shared" / "corpus"
#: The outputs against --format json on the same file (README, "Speed and memory on long logs").
TARGET_OUTPUTS = {"terminal": 1.5, "html": 2.0, "markdown": 1.5, "trace": 2.0, "compare": 3.0}
CONCAT_LOG = DATA / "corpus-256mb.log"
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
CHILD_ENV = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONDONTWRITEBYTECODE", "COMFYLOG_SCANNER", "COMFYLOG_SEGMENTER")}
#: What each configuration timed sets: the default (native scanner, Rust segmenter), Python's segmenter
#: on the native scanner (COMFYLOG_SEGMENTER=python, segment/native.py), and the pure-Python reference.
CONFIGS = {
    "native": {"COMFYLOG_SCANNER": "native"},
    "py-seg": {"COMFYLOG_SCANNER": "native", "COMFYLOG_SEGMENTER": "python"},
    "python": {"COMFYLOG_SCANNER": "python"},
}


def scanners() -> list[str]:
    """The configurations this comfylog has: native first where installed (with Python's segmenter too),
    python always."""
    found = subprocess.run([*comfylog_command(), "--version"], capture_output=True, text=True, env=CHILD_ENV)
    return ["native", "py-seg", "python"] if "scanner native" in found.stdout else ["python"]


class Timing(NamedTuple):
    wall: float
    rss_mb: float
    stdout: str
    #: user + system CPU seconds: what a busy machine (shared cores) changes least
    cpu: float


def timed(cmd: list[str], scanner: str | None = None) -> Timing:
    """Run ``cmd`` under GNU time: its wall seconds, peak RSS in MB, standard output and CPU seconds."""
    env = CHILD_ENV if scanner is None else {**CHILD_ENV, **CONFIGS[scanner]}
    proc = subprocess.run([GNU_TIME, "-v", *cmd], capture_output=True, text=True, errors="replace", env=env)
    if proc.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = [re.search(rf"{kind} time \(seconds\): (\d+(?:\.\d+)?)", proc.stderr) for kind in ("User", "System")]
    if not wall or not rss or not all(cpu):
        sys.exit(f"run.py: cannot read GNU time's report for {cmd[0]}")
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return Timing(seconds, int(rss.group(1)) / 1024, proc.stdout, sum(float(m.group(1)) for m in cpu if m))


def best(cmd: list[str], repeat: int, scanner: str | None = None) -> Timing:
    """The best wall time and the best CPU time of ``repeat`` runs, the highest peak RSS."""
    runs = [timed(cmd, scanner) for _ in range(repeat)]
    return Timing(min(r.wall for r in runs), max(r.rss_mb for r in runs), runs[-1].stdout, min(r.cpu for r in runs))


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
    parser.add_argument("files", nargs="*", type=Path,
                        help="logs to time (default: benchmarks/data/bench-*.log and corpus-*.log)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per command; the best wall time counts")
    parser.add_argument("--outputs", action="store_true",
                        help=f"time the terminal and HTML reports against JSON on {CONCAT_LOG.name} instead")
    parser.add_argument("--fleet", type=int, metavar="N", help="time a fleet of N corpus logs instead")
    parser.add_argument("--floor", action="store_true", help="also time the Python floor (a bare line loop)")
    args = parser.parse_args()
    if args.outputs:
        outputs(args.files[0] if args.files else CONCAT_LOG, args.repeat)
        return
    if args.fleet:
        fleet(args.fleet, args.repeat)
        return
    for tool in ("lnav", "grep", "rg", GNU_TIME):
        if shutil.which(tool) is None:
            sys.exit(f"run.py: {tool} not found (apt-get install lnav grep ripgrep time)")
    files = args.files or sorted([*DATA.glob("bench-*.log"), *DATA.glob("corpus-*.log")],
                                 key=lambda p: p.stat().st_size)
    if not files:
        sys.exit("run.py: no benchmark logs: run python benchmarks/generate.py first")
    comfylog = comfylog_command()
    kinds = scanners()
    print(f"machine: {machine()}; {lnav_version()}; scanners: {', '.join(kinds)}")
    ok = True

    for kind in kinds:
        timed([*comfylog, "analyze", "--format", "json", str(SMALL_LOG)], kind)  # warm-up: bytecode, file cache
        startup = min(timed([*comfylog, "analyze", str(SMALL_LOG)], kind)[0] for _ in range(max(args.repeat, 3)))
        small_kb = SMALL_LOG.stat().st_size / 1000
        verdict = "ok" if startup <= TARGET_STARTUP_S else "MISSED"
        ok &= startup <= TARGET_STARTUP_S or kind != kinds[0]
        print(f"start-up ({kind}): comfylog analyze {SMALL_LOG.name} ({small_kb:.0f} kB): {startup:.3f} s "
              f"(target <= {TARGET_STARTUP_S} s: {verdict})")

    header = f"{'file':<20}{'MB':>6}"
    for kind in kinds:
        header += f"{kind + ' s':>11}{'/lnav':>7}{'peak MB':>9}"
    header += f"{'lnav s':>8}{'lnav MB':>9}{'grep s':>8}{'rg s':>7}"
    if args.floor:
        header += f"{'py floor s':>11}"
    print(header)
    ratio_ok = rss_ok = True
    for path in files:
        size_mb = path.stat().st_size / 1e6
        row = f"{path.name:<20}{size_mb:>6.0f}"
        lnav = best(["lnav", "-n", "-c", ";SELECT count(*) FROM all_logs", str(path)], args.repeat)
        if not re.search(r"\d", lnav[2]):
            sys.exit(f"run.py: lnav printed no count for {path}: {lnav[2]!r}")
        for kind in kinds:
            ours = best([*comfylog, "analyze", "--format", "json", str(path)], args.repeat, kind)
            row += f"{ours[0]:>11.2f}{ours[0] / lnav[0]:>7.2f}{ours[1]:>9.0f}"
            if kind == kinds[0]:
                ratio_ok &= ours[0] / lnav[0] <= TARGET_RATIO
                rss_ok &= ours[1] <= TARGET_RSS_MB
        grep = best(["grep", "-c", "-E", KEY_PHRASES, str(path)], args.repeat)
        rg = best(["rg", "-c", KEY_PHRASES, str(path)], args.repeat)
        row += f"{lnav[0]:>8.2f}{lnav[1]:>9.0f}{grep[0]:>8.2f}{rg[0]:>7.2f}"
        if args.floor:
            floor = best([sys.executable, "-c", PYTHON_FLOOR, str(path), KEY_PHRASES], args.repeat)
            row += f"{floor[0]:>11.2f}"
        print(row, flush=True)
    print(f"target comfylog ({kinds[0]})/lnav <= {TARGET_RATIO}: {'met' if ratio_ok else 'MISSED'}; "
          f"peak RSS <= {TARGET_RSS_MB} MB: {'met' if rss_ok else 'MISSED'}; "
          f"start-up: {'met' if ok else 'MISSED'} (see README, Speed and memory on long logs)")


def fleet(count: int, repeat: int) -> None:
    """A fleet of ``count`` corpus logs (copied round-robin into data/fleet-N/), with each scanner."""
    logs = sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))
    if not logs:
        sys.exit(f"run.py: no corpus logs under {CORPUS}")
    folder = DATA / f"fleet-{count}"
    if not folder.is_dir() or len(list(folder.iterdir())) != count:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(count):
            source = logs[i % len(logs)]
            shutil.copyfile(source, folder / f"{i:05d}-{source.name}")
    comfylog = comfylog_command()
    size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    print(f"machine: {machine()}; fleet of {count} corpus logs ({size:.0f} MB) in {folder}")
    for kind in scanners():
        seconds, rss, _, _ = best([*comfylog, "analyze", "--format", "json", str(folder)], repeat, kind)
        print(f"{kind:<8}{seconds:>8.2f} s{rss:>8.0f} MB peak")


def outputs(path: Path, repeat: int) -> None:
    """Each output of ``path`` (terminal, HTML, markdown, trace, comparison) against its JSON, in one run."""
    if not path.exists():
        sys.exit(f"run.py: {path} not found: run python benchmarks/generate.py --concat first")
    comfylog = comfylog_command()
    out = DATA / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}; file {path.name} ({path.stat().st_size / 1e6:.0f} MB); best of {repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    json_s = best([*comfylog, "analyze", "--format", "json", "-o", str(out / "report.json"), str(path)], repeat)
    rows: list[tuple[str, Timing, float | None]] = [("json", json_s, None)]
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
    # the log against itself: two analyses, and every prompt paired (the medians over all of them)
    compare = best([*comfylog, "compare", "-o", str(out / "compare.txt"), str(path), str(path)], repeat)
    rows.append(("compare", compare, TARGET_OUTPUTS["compare"]))
    print(f"load average after: {os.getloadavg()[0]:.1f} (wall times stretch when other work shares the cores; "
          "CPU times less)")
    print(f"{'output':<10}{'wall s':>9}{'/json':>7}{'cpu s':>9}{'/json':>7}{'peak MB':>9}  target (wall; CPU)")
    for name, timing, target in rows:
        ratio, cpu_ratio = timing.wall / json_s.wall, timing.cpu / json_s.cpu
        verdict = "" if target is None else (
            f"<= {target}x: {'met' if ratio <= target else 'MISSED'}; {'met' if cpu_ratio <= target else 'MISSED'}; ")
        verdict += f"<= {TARGET_RSS_MB} MB: {'met' if timing.rss_mb <= TARGET_RSS_MB else 'MISSED'}"
        print(f"{name:<10}{timing.wall:>9.2f}{ratio:>7.2f}{timing.cpu:>9.2f}{cpu_ratio:>7.2f}{timing.rss_mb:>9.0f}"
              f"  {verdict}")


if __name__ == "__main__":
    main()
