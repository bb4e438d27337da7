"""Where the time of ``comfylog analyze --format json`` goes, stage by stage, on one log (CPU seconds).

    python benchmarks/stages.py benchmarks/data/corpus-256mb.log

Stages: reading and scanning into Events and Activities (the native scanner's ``feed``, which makes
them in Rust, or the Python reader and parser), Python's segmenter, the diagnosis (findings, evidence
read back), and writing the JSON. Not a timed test. ``build_report`` (the whole build, as analyze
runs it) uses the segmenter in use (by default the Rust one on the native scanner, which segments on
the scan thread and so has no stage of its own on the main thread; ``COMFYLOG_SEGMENTER=python``).

The native scanner scans a large block on a thread of its own while Python segments the block
before it, so the process's CPU time charges that thread's work to whatever the main thread does
meanwhile: read+scan and segment are the main thread's CPU (``time.thread_time``), and the scan
thread's is what the whole loop's process CPU has beyond them.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

from comfylog.diagnose import diagnose
from comfylog.gcpolicy import use_analysis_thresholds
from comfylog.parse import Parser
from comfylog.parse.native import NativeParser, scanner
from comfylog.pipeline import build_report
from comfylog.read.lines import open_input
from comfylog.render.json import write_json
from comfylog.segment.native import segmenter_in_use
from comfylog.segment.segmenter import Segmenter


def main() -> None:
    path = sys.argv[1]
    use_analysis_thresholds()
    clock = time.thread_time
    which = scanner()
    log = open_input(path, blocks=which == "native")
    seg = Segmenter(0, reading=log.source)
    scan = segment = 0.0
    process = time.process_time()
    if log.blocks is not None:
        native = NativeParser(0, log.source)
        for block in [*log.blocks, None]:
            t0 = clock()
            items = native.feed(block) if block is not None else native.close()
            t1 = clock()
            seg.feed_all(items)
            scan, segment = scan + t1 - t0, segment + clock() - t1
    else:
        assert log.lines is not None
        parser = Parser(0)
        for raw_line in log.lines:
            t0 = clock()
            items = list(parser.feed(raw_line))
            t1 = clock()
            seg.feed_all(items)
            scan, segment = scan + t1 - t0, segment + clock() - t1
        seg.feed_all(parser.close())
    seg.finish()
    loop = time.process_time() - process
    del seg  # its tables: analyze holds one report (the spools keep less the more records are on disk)
    clock = time.process_time  # the later stages: all threads
    t0 = clock()
    report = build_report([open_input(path, blocks=which == "native")])  # the whole build once more, as analyze
    t1 = clock()
    report.findings = diagnose(report, reread=True, paths=[path])
    t2 = clock()
    write_json(report, io.StringIO())
    t3 = clock()
    size = Path(path).stat().st_size / 1e6
    print(f"{os.path.basename(path)} ({size:.0f} MB), scanner {which}: main thread: read+scan {scan:.2f} s, "
          f"segment {segment:.2f} s (the loop's process CPU {loop:.2f} s; build_report {t1 - t0:.2f} s with the "
          f"{segmenter_in_use()} segmenter); "
          f"diagnose {t2 - t1:.2f} s; json {t3 - t2:.2f} s")


if __name__ == "__main__":
    main()
