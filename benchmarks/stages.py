"""Where the time of ``comfylog analyze --format json`` goes, stage by stage, on one log (CPU seconds).

    python benchmarks/stages.py benchmarks/data/corpus-256mb.log

Stages: reading and scanning (the native scanner's ``feed``, its tuples included, or the Python
reader and parser), turning the scanner's tuples into Events and Activities (native only), the
segmenter, the diagnosis (findings, evidence read back), and writing the JSON. Not a timed test.
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
from comfylog.segment.segmenter import Segmenter


def main() -> None:
    path = sys.argv[1]
    use_analysis_thresholds()
    clock = time.process_time
    which = scanner()
    log = open_input(path, blocks=which == "native")
    seg = Segmenter(0, reading=log.source)
    scan = convert = segment = 0.0
    if log.blocks is not None:
        native = NativeParser(0, log.source)
        for block in log.blocks:
            t0 = clock()
            raw = native._scanner.feed(block)
            t1 = clock()
            items = native._items(raw)
            t2 = clock()
            seg.feed_all(items)
            t3 = clock()
            scan, convert, segment = scan + t1 - t0, convert + t2 - t1, segment + t3 - t2
    else:
        assert log.lines is not None
        parser = Parser(0)
        for raw_line in log.lines:
            t0 = clock()
            items = list(parser.feed(raw_line))
            t1 = clock()
            seg.feed_all(items)
            scan, segment = scan + t1 - t0, segment + clock() - t1
    t0 = clock()
    report = build_report([open_input(path, blocks=which == "native")])  # the whole build once more, as analyze
    t1 = clock()
    report.findings = diagnose(report, reread=True, paths=[path])
    t2 = clock()
    write_json(report, io.StringIO())
    t3 = clock()
    size = Path(path).stat().st_size / 1e6
    print(f"{os.path.basename(path)} ({size:.0f} MB), scanner {which}: read+scan {scan:.2f} s, "
          f"tuples->events {convert:.2f} s, segment {segment:.2f} s (build_report {t1 - t0:.2f} s); "
          f"diagnose {t2 - t1:.2f} s; json {t3 - t2:.2f} s")


if __name__ == "__main__":
    main()
