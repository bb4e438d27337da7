"""Record tables that spill to disk (spool.py) read back exactly what was put in.

The end-to-end tests shrink the blocks to a few records, so every corpus log's prompts, bars,
loads, errors and runs go through the temporary file, and compare the whole report and its
findings with the ones built in memory.
"""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import comfylog.diagnose.facts
import comfylog.segment.segmenter
import comfylog.spool
from comfylog.api import analyze, analyze_text
from comfylog.diagnose import diagnose
from comfylog.diagnose.facts import PROMPT_GROUPS, Facts, Group, is_timed
from comfylog.index import ReportIndex, index_of
from comfylog.model import Phases, Prompt, Report
from comfylog.pipeline import empty_report
from comfylog.render.json import render_json
from comfylog.rows import report_to_dict
from comfylog.spool import Spool, walk

from .conftest import CORPUS, corpus_or_skip


def prompts(n: int) -> list[Prompt]:
    return [Prompt(index=i, run=i // 10, got_at=None, line=3 * i, phases=Phases(load=i / 7)) for i in range(n)]


def test_full_blocks_go_to_disk_and_read_back_the_same() -> None:
    made = prompts(1000)
    spool: Spool[Prompt] = Spool(block=64)
    spool.extend(made)
    assert spool.on_disk == 960  # whole blocks only; the newest stay in memory
    assert len(spool) == 1000
    assert list(spool) == made
    assert list(reversed(spool)) == made[::-1]
    assert spool[5] == made[5] and spool[-1] == made[-1] and spool[959] == made[959]
    assert spool[950:970] == made[950:970] and spool[-3:] == made[-3:]
    assert spool == made and spool != made[:-1]
    with pytest.raises(IndexError):
        spool[1000]


def test_a_block_of_one_record_class_goes_to_disk_as_field_tuples_and_reads_back_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A block whose records are all of one class of model.py goes to disk as the class and the tuples of their
    fields (pickled in C, no ``__reduce__`` call a record); a block that mixes classes as the list. Both read back
    equal, in order, of their classes."""
    dumped: list[Any] = []
    dumps = pickle.dumps
    monkeypatch.setattr(comfylog.spool.pickle, "dumps", lambda obj, **k: dumped.append(obj) or dumps(obj, **k))
    made = prompts(100)
    mixed: list[Any] = [*made[:50], Phases(load=1.0), *made[50:]]
    one: Spool[Prompt] = Spool(made, block=32)
    two: Spool[Any] = Spool(mixed, block=32, compress=False)
    assert list(one) == made and list(one.passing()) == made and one[40] == made[40]
    assert list(two) == mixed and [type(r) for r in two.passing()] == [type(r) for r in mixed]
    assert [type(d) for d in dumped] == [tuple] * 3 + [tuple, list, tuple]
    assert dumped[0][0] is Prompt and dumped[0][1][5] == (5, 0, None, 15, 0, "unfinished", None, None, None, None,
                                                         made[5].phases, False, 0, [], 0, 0, 0, True, False, False,
                                                         [], None, None, None, False, None, None)


def test_extending_spills_the_same_blocks_as_appending_one_by_one() -> None:
    """extend takes a batch in one step (the native segmenter's records): the file holds the same
    blocks, in the same order, as appending each record would have written."""
    made = prompts(300)
    one_by_one: Spool[Prompt] = Spool(block=64)
    for prompt in made:
        one_by_one.append(prompt)
    batched: Spool[Prompt] = Spool(block=64)
    for start, stop in ((0, 10), (10, 200), (200, 201), (201, 300)):  # under, over and past a block
        batched.extend(made[start:stop])
    assert batched.on_disk == one_by_one.on_disk == 256
    assert batched._extents == one_by_one._extents
    assert list(batched) == made and batched[255] == made[255] and batched[-1] == made[-1]


def test_a_spool_let_go_puts_its_newest_records_on_disk_too_and_reads_them_back_the_same() -> None:
    """Let go (a report analysed before another, compare), the records not yet in a block go to disk as a short
    last block (a 1 GB log's tails were ~5 MB beside the next analysis); it takes no more records after."""
    made = prompts(1000)
    spool: Spool[Prompt] = Spool(made, block=64)
    assert spool.on_disk == 960
    spool.let_go()
    assert spool.on_disk == 1000 and not spool._tail
    assert list(spool) == made and list(reversed(spool)) == made[::-1]
    assert spool[999] == made[999] and spool[-1] == made[-1] and spool[-3:] == made[-3:]
    assert list(spool.walk([0, 965, 999])) == [made[0], made[965], made[999]]
    with pytest.raises(ValueError, match="no more records"):
        spool.append(made[0])
    small: Spool[Prompt] = Spool(made[:10], block=64)  # never on disk: stays in memory, as it was
    small.let_go()
    small.append(made[10])
    assert small.on_disk == 0 and list(small) == made[:11]


def test_a_spool_takes_final_records_only_and_never_stores_a_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule stated once in spool.py: past the budget of kept blocks, what is read back is a copy, and
    there is no way to store it."""
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    spool: Spool[Prompt] = Spool(prompts(200), block=50)
    assert spool.on_disk == 200
    copy = spool[10]
    copy.status = "ok"
    assert spool[60].status == "unfinished"  # another block was decoded in between
    assert spool[10].status == "unfinished"
    assert not hasattr(spool, "__setitem__") and not hasattr(spool, "release")


def test_blocks_read_back_are_kept_decoded_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagnosis passes over a table many times: a block is decoded once while the budget allows,
    and the budget is given back with the spool."""
    before = comfylog.spool._Kept.total
    decoded: list[int] = []
    loads = pickle.loads
    monkeypatch.setattr(comfylog.spool.pickle, "loads", lambda data: decoded.append(1) or loads(data))
    made = prompts(200)
    spool: Spool[Prompt] = Spool(made, block=50)
    for _ in range(3):
        assert list(spool) == made
    assert len(decoded) == 4  # four blocks, each decoded once
    assert spool[10] is spool[10] and comfylog.spool._Kept.total > before
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", comfylog.spool._Kept.total)  # the budget is spent
    other: Spool[Prompt] = Spool(made, block=50)
    for _ in range(2):
        assert list(other) == made
    assert len(decoded) == 12  # decoded again at each pass
    del spool, other
    assert comfylog.spool._Kept.total == before


def test_a_pass_that_keeps_nothing_gives_the_same_records_and_leaves_the_budget(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The report index reads a table too big to stay decoded whole once (Spool.passing): the same records in
    order, and the budget left to the groups' copies the rules read back; a block kept already is not decoded."""
    made = prompts(230)
    spool: Spool[Prompt] = Spool(made, block=50, compress=False)
    before = comfylog.spool._Kept.total
    decoded = count_blocks_decoded(monkeypatch)
    assert list(spool.passing()) == made and list(comfylog.spool.passing(spool, keep=False)) == made
    assert len(decoded) == 8 and comfylog.spool._Kept.total == before  # 4 blocks on disk, twice; none kept
    assert spool[60] == made[60]  # its block is kept now
    assert list(spool.passing()) == made and len(decoded) == 8 + 1 + 3  # the kept one not again


def test_a_held_copy_keeps_whole_blocks_in_memory_within_the_budget_then_spills(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's copy (``hold``: the estimated bytes a record) holds its blocks as they are, never pickled, while the
    budget of decoded blocks takes them; from the first it does not, every whole block goes to disk and the budget
    is given back. Either way it reads back the same records, and gives the budget back when it goes."""
    made = prompts(230)
    before = comfylog.spool._Kept.total
    dumped: list[int] = []
    dumps = pickle.dumps
    monkeypatch.setattr(comfylog.spool.pickle, "dumps", lambda *a, **k: dumped.append(1) or dumps(*a, **k))
    held: Spool[Prompt] = Spool(block=50, compress=False, hold=1000)
    for record in made:
        held.append(record)
    assert held.on_disk == 0 and not dumped and held[120] is made[120] and list(held) == made
    assert comfylog.spool._Kept.total == before + 4 * 50 * 1000  # the four whole blocks
    del held
    assert comfylog.spool._Kept.total == before
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", before + 2 * 50 * 1000)  # two blocks' room
    spilled: Spool[Prompt] = Spool(block=50, compress=False, hold=1000)
    for record in made:
        spilled.append(record)
    assert spilled.on_disk == 200 and len(dumped) == 4 and comfylog.spool._Kept.total == before
    assert list(spilled) == made and list(spilled.walk(range(40, 160))) == made[40:160] and spilled[-1] == made[-1]
    assert pickle.loads(pickle.dumps(spilled)) == made


def count_blocks_decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows at each block a spool decodes (not at a record kept alone) by the block's records."""
    decoded: list[int] = []
    loads = pickle.loads

    def counting(data: bytes) -> Any:
        found = loads(data)
        if isinstance(found, list):
            decoded.append(len(found))
        elif isinstance(found, tuple):  # a block of one record class: (cls, its records' fields)
            decoded.append(len(found[1]))
        return found

    monkeypatch.setattr(comfylog.spool.pickle, "loads", counting)
    return decoded


def test_a_walk_of_positions_decodes_each_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt's loads, a run's prompts come by walk(): positions in table order, block after block."""
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    decoded = count_blocks_decoded(monkeypatch)
    made = prompts(230)
    spool: Spool[Prompt] = Spool(made, block=50)
    positions = [3, 7, 49, 50, 51, 120, 199, 210, 229]
    assert list(spool.walk(positions)) == [made[i] for i in positions]
    assert len(decoded) == 4  # blocks 0, 1, 2 and 3; the last positions are in the tail
    assert list(spool.walk([])) == [] and list(walk(made, positions)) == list(walk(spool, positions))
    assert comfylog.spool._Kept.picked == 0  # a walk keeps nothing one by one


def test_a_walk_of_a_range_goes_by_block_slices_and_gives_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prompt's records are a range of positions: walked block slice by block slice (no lookup per record),
    across blocks, into the tail, and after the spool was let go with a short last block."""
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    decoded = count_blocks_decoded(monkeypatch)
    made = prompts(230)
    spool: Spool[Prompt] = Spool(made, block=50)
    for start, stop in [(0, 0), (3, 4), (0, 50), (49, 51), (10, 230), (199, 230), (200, 230), (120, 121)]:
        assert list(spool.walk(range(start, stop))) == made[start:stop], (start, stop)
    decoded.clear()
    assert list(spool.walk(range(45, 205))) == made[45:205]
    assert len(decoded) == 4  # blocks 0-3, each once; 200-204 from the tail
    spool.let_go()
    assert list(spool.walk(range(190, 230))) == made[190:230]  # the short last block on disk


def test_a_group_gives_the_records_of_a_range_from_its_copy_only_when_all_are_members() -> None:
    """Group.records_at: a prompt's records (a range) come from the group's copy when every one of them is a
    member, else from the table; the same records either way."""
    made = prompts(12)
    group: Group[Prompt] = Group(len(made), block=2)
    for position in (2, 3, 4, 7, 9):
        group.add(position, made[position])
    assert group.copy is not None
    for positions in (range(2, 5), range(3, 5), range(7, 8), range(3, 8), range(4, 8), range(9, 12), range(0, 3)):
        assert group.records_at(made, positions) == made[positions.start:positions.stop], positions
    table_reads = Counter[int]()

    class Table(list[Prompt]):
        def __getitem__(self, i: Any) -> Any:
            table_reads[i] += 1
            return list.__getitem__(self, i)

    assert group.records_at(Table(made), range(2, 5)) == made[2:5] and not table_reads  # from the copy
    assert group.records_at(Table(made), range(4, 8)) == made[4:8] and sum(table_reads.values()) == 4


def test_a_record_looked_up_by_position_is_kept_pickled_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules ask for the same scattered prompts again and again: past the kept blocks, each is kept as its
    own pickle (a copy at each lookup: no reader may change a record), and the budget comes back with
    the spool."""
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    decoded = count_blocks_decoded(monkeypatch)
    made = prompts(200)
    spool: Spool[Prompt] = Spool(made, block=50)
    scattered = [5, 60, 110, 160]
    assert [spool[i] for i in scattered] == [made[i] for i in scattered]
    assert len(decoded) == 4
    assert [spool[i] for i in scattered] == [made[i] for i in scattered]
    assert len(decoded) == 4  # no block decoded again
    assert spool[5] is not spool[5] and comfylog.spool._Kept.picked > 0
    del spool
    assert comfylog.spool._Kept.picked == 0
    monkeypatch.setattr(comfylog.spool, "PICK_BYTES", 0)
    other: Spool[Prompt] = Spool(made, block=50)
    for _ in range(2):
        assert [other[i] for i in scattered] == [made[i] for i in scattered]
    assert len(decoded) == 12  # no budget: the blocks are decoded at each pass


def test_the_kept_budget_shrinks_with_the_records_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A longer log's index and rules hold more: its spools keep fewer decoded blocks, down to a floor."""
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 1000)
    monkeypatch.setattr(comfylog.spool, "KEEP_FLOOR_BYTES", 400)
    monkeypatch.setattr(comfylog.spool, "KEEP_LESS_PER_RECORD", 2)
    before = comfylog.spool._Kept.spilled
    first = comfylog.spool.keep_budget()
    spool: Spool[Prompt] = Spool(prompts(200), block=50)
    assert comfylog.spool._Kept.spilled == before + 200
    assert comfylog.spool.keep_budget() == max(400, first - 400)
    more: Spool[Prompt] = Spool(prompts(1000), block=50)
    assert comfylog.spool.keep_budget() == 400  # the floor
    del spool, more
    assert comfylog.spool._Kept.spilled == before and comfylog.spool.keep_budget() == first


def test_records_not_yet_spilled_stay_the_very_objects() -> None:
    made = prompts(120)
    spool: Spool[Prompt] = Spool(made, block=50)
    assert spool.on_disk == 100
    assert spool[110] is made[110]


def test_a_spool_pickles_whole() -> None:
    spool: Spool[Prompt] = Spool(prompts(300), block=50)
    back = pickle.loads(pickle.dumps(spool))
    assert back == spool and back.on_disk == 300  # its block size came along


def test_iterating_while_records_are_added_yields_each_once() -> None:
    made = prompts(40)
    spool: Spool[Prompt] = Spool(made[:10], block=4)
    seen = []
    for i, prompt in enumerate(spool):
        seen.append(prompt)
        if i == 5:
            spool.extend(made[10:])  # spills blocks under the loop
    assert seen == made
    spool.extend(spool)  # a snapshot of itself, not an endless loop
    assert len(spool) == 80 and list(spool)[40:] == made


def test_the_segmenter_hands_over_only_final_records(monkeypatch: pytest.MonkeyPatch, each_segmenter: str) -> None:
    """Nothing changes a record once it is in a table: each is the same at the end as when appended
    (RELEASE_EVERY reaches both segmenters: the Rust one is handed segmenter.py's)."""
    corpus_or_skip()
    monkeypatch.setattr(comfylog.segment.segmenter, "RELEASE_EVERY", 2)
    snapshots: list[tuple[object, object]] = []
    original, original_extend = Spool.append, Spool.extend

    def spy(self: Spool[Any], item: Any) -> None:
        snapshots.append((item, copy.deepcopy(item)))
        original(self, item)

    def spy_extend(self: Spool[Any], items: Any) -> None:
        items = list(items)
        snapshots.extend((item, copy.deepcopy(item)) for item in items)
        original_extend(self, items)

    monkeypatch.setattr(Spool, "append", spy)
    monkeypatch.setattr(Spool, "extend", spy_extend)
    for log in ("runpod-wan-lowvram-gguf.log", "runpod-wan-oom-restart.log"):
        analyze(CORPUS / "scenarios" / log)
    analyze(CORPUS / "logs" / "019-pogchan-gtx1660ti-lowvram-zimage.log")  # prompts dropped from the queue
    analyze(CORPUS / "logs" / "005-ninetyfive666-flux-3090-partial.log")  # validation failures, exceptions
    assert len(snapshots) > 200
    changed = [(item, then) for item, then in snapshots if item != then]
    assert not changed, changed[:2]


def corpus_logs() -> list[Path]:
    return sorted((CORPUS / "logs").glob("*.log")) + sorted((CORPUS / "scenarios").glob("*.log"))


def whole(paths: list[Path]) -> tuple[dict[str, Any], int]:
    report = analyze([str(p) for p in paths])
    tables = (report.runs, report.prompts, report.progress_bars, report.loads, report.errors)
    return report_to_dict(report), sum(t.on_disk for t in tables)


def test_every_corpus_report_is_the_same_when_its_records_spill(
        monkeypatch: pytest.MonkeyPatch, each_segmenter: str) -> None:
    corpus_or_skip()
    logs = corpus_logs()
    monkeypatch.setattr(comfylog.spool, "BLOCK", 10**9)  # blocks that never fill: everything in memory
    in_memory = [whole([p]) for p in logs] + [whole(logs)]
    assert all(spilled == 0 for _, spilled in in_memory)
    monkeypatch.setattr(comfylog.spool, "BLOCK", 3)
    monkeypatch.setattr(comfylog.segment.segmenter, "RELEASE_EVERY", 2)
    monkeypatch.setattr(comfylog.segment.segmenter, "RUN_BLOCK", 2)
    monkeypatch.setattr(comfylog.diagnose.facts, "GROUP_BLOCK", 2)  # the rules' groups go through the disk too
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)  # as a long log: records read back are copies
    spilled = [whole([p]) for p in logs] + [whole(logs)]
    for path, (expected, _), (got, _) in zip([*logs, Path("whole corpus")], in_memory, spilled, strict=True):
        assert got == expected, path.name
    assert sum(on_disk for _, on_disk in spilled) > 3000  # the comparison went through the disk
    assert any(r["findings"] for r, _ in spilled)


def spooled_corpus(monkeypatch: pytest.MonkeyPatch, group_block: int | None = None) -> tuple[Report, int, int]:
    """The whole corpus as one report whose tables are on disk in blocks of 64 records (runs: 8), kept
    nowhere decoded, as a long log's are: the report, its blocks and its records on disk."""
    corpus_or_skip()
    monkeypatch.setattr(comfylog.spool, "BLOCK", 64)
    monkeypatch.setattr(comfylog.segment.segmenter, "RUN_BLOCK", 8)
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    if group_block is not None:
        monkeypatch.setattr(comfylog.diagnose.facts, "GROUP_BLOCK", group_block)
    report = analyze([str(p) for p in corpus_logs()])
    tables = (report.runs, report.prompts, report.progress_bars, report.loads, report.errors)
    return report, sum(len(t._extents) for t in tables), sum(t.on_disk for t in tables)


def test_the_diagnosis_of_a_spooled_report_decodes_each_block_a_few_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding is most of the cost of a long log's diagnosis: it must grow with the blocks, not with the
    rules' passes or the records they look up (the whole corpus as one report decoded 7.5 blocks per
    block of its tables before the rules' groups had spools of their own, 3.6 before the records the rules
    read of a group's prompts, of one kind of error, of a group of runs were filed in the index's one pass;
    1.9 since. The JSON reads each once)."""
    report, blocks, _ = spooled_corpus(monkeypatch)
    assert blocks > 100
    decoded = count_blocks_decoded(monkeypatch)
    report.index_cache = None
    report.findings = diagnose(report)
    assert report.findings and len(decoded) <= 2.5 * blocks, (len(decoded), blocks)
    before = len(decoded)
    render_json(report)
    assert len(decoded) - before <= blocks


def test_the_diagnosis_decodes_each_record_about_twice_with_its_groups_on_disk(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As a 1 GB log's: the rules' groups are on disk too (a block of a group is smaller than one of a table,
    so records decoded, not blocks, measure the work). The index reads each record once; what the rules
    read of a group's prompts (their loads, bars, errors), of one kind of error or of a group of runs was
    filed then, so the rules add less than one more read of each (it was 3.4 reads a record: each rule that
    looked up the loads of a few prompts scattered over the table decoded all of it)."""
    report, _, records = spooled_corpus(monkeypatch, group_block=16)
    assert records > 5000
    decoded = count_blocks_decoded(monkeypatch)
    report.index_cache = None
    report.findings = diagnose(report)
    assert report.findings and sum(decoded) <= 2.5 * records, (sum(decoded), records)


def test_a_group_of_most_prompts_is_read_from_the_table_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every prompt of a log with time stamps is timed: the rules' groups copy their members only while they are
    the small side of the table (a copy of the whole table cost more to write than it saved), and read the
    others from the table by position. Either way a group gives its members in report order."""
    corpus_or_skip()
    monkeypatch.setattr(comfylog.spool, "BLOCK", 16)
    monkeypatch.setattr(comfylog.diagnose.facts, "GROUP_BLOCK", 8)
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)  # as a long log's: the tables do not stay decoded
    copied: Counter[int] = Counter()  # records appended, by group spool
    original = Spool.append

    def spy(self: Spool[Any], item: Any) -> None:
        if self._block == 8 and isinstance(item, Prompt):  # a group's copy of prompts (not of their records)
            copied[id(self)] += 1
        original(self, item)

    timed_log = CORPUS / "logs" / "036-krohaard-rtx5070ti-laptop-unloaded-partially.log"
    for paths in ([timed_log], corpus_logs()):
        report = analyze([str(p) for p in paths])
        assert report.prompts.on_disk
        monkeypatch.setattr(Spool, "append", spy)
        copied.clear()
        facts = Facts(report)
        monkeypatch.setattr(Spool, "append", original)
        table = list(report.prompts)
        for name, test in PROMPT_GROUPS.items():
            assert list(facts.prompts_in(name)) == [p for p in table if test(p)], name
        assert max(copied.values()) <= len(table) // 2 + 8, (copied, len(table))
    timed = sum(1 for p in table if is_timed(p))
    assert 0 < timed < len(table) // 2 and timed in copied.values()  # the whole corpus: its few timed are copied


def test_a_report_whose_tables_stay_decoded_copies_no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where every block of a table can stay decoded (spool.can_keep), the rules read its groups from the
    table, which a pass decodes once: a copy would only cost (it made the 100 MB benchmark's diagnosis
    a quarter slower). The groups are the same either way."""
    corpus_or_skip()
    monkeypatch.setattr(comfylog.spool, "BLOCK", 16)
    report = analyze([str(p) for p in corpus_logs()])
    assert report.prompts.on_disk and all(comfylog.spool.can_keep([report.prompts, report.loads]))
    kept = Facts(report)
    assert all(group.copy is None for group in kept._groups.values())
    monkeypatch.setattr(comfylog.spool, "KEEP_BYTES", 0)
    assert comfylog.spool.can_keep([report.prompts]) == [False]
    copied = Facts(report)
    assert any(group.copy is not None for group in copied._groups.values())
    for name in PROMPT_GROUPS:
        assert list(kept.prompts_in(name)) == list(copied.prompts_in(name)), name
    for prompt in report.prompts:
        assert kept.loads_of(prompt) == copied.loads_of(prompt) and kept.bars_of(prompt) == copied.bars_of(prompt)


def test_records_read_in_prompt_order_are_those_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace asks for every prompt's loads and bars run after run, each once: read in one pass over the
    tables (ReportIndex.loads_in_order, bars_in_order), they are the records a lookup gives; asked again, or
    out of order, they are looked up. Here the whole corpus as one report (many sources, runs after runs),
    its tables on disk in blocks of 64: its loads are in prompt order, its bars not (both ways are read)."""
    report, _, _ = spooled_corpus(monkeypatch)
    index = index_of(report)
    assert index._loads._order is None and index._bars._order is not None
    loads_of, bars_of = index.loads_in_order(), index.bars_in_order()
    order = [prompt for run in report.runs for prompt in index.run_prompts(run.index)]
    assert sorted(p.index for p in order) == [p.index for p in order]  # the order the trace asks in
    found = 0
    for prompt in order:
        loads, bars = loads_of(prompt), bars_of(prompt)
        assert loads == index.loads_of(prompt) and bars == index.bars_of(prompt), prompt.index
        found += len(loads) + len(bars)
    assert found == len(report.loads) + len(report.progress_bars) - sum(
        1 for r in (*report.loads, *report.progress_bars) if r.prompt is None)
    for prompt in reversed(order[-50:]):  # asked again, from the last back
        assert loads_of(prompt) == index.loads_of(prompt) and bars_of(prompt) == index.bars_of(prompt)


#: A bar the parser finishes only after the next ``got prompt`` (its line comes before the prompt's)
#: is painted when that prompt ends: it must not go to disk in between. Found in review.
LATE_BAR_LOG = "\n".join(
    ["2024-12-17T21:00:03.000000 - 100%|██████████| 4/4 [00:02<00:00,  2.00it/s]",
     "2024-12-17T21:00:04.000000 - Prompt executed in 9.00 seconds",
     "2024-12-17T21:00:07.000000 - 100%|██████████| 4/4 [00:02<00:00,  2.00it/s]",
     "2024-12-17T21:00:08.000000 -  50%|█████     | 10/20 [00:05<00:05,  2.00it/s]",
     "2024-12-17T21:00:09.000000 - got prompt",
     "2024-12-17T21:00:10.000000 - Requested to load SDXL"]
    + [f"2024-12-17T21:{1 + i // 20:02d}:{i * 3 % 60:02d}.000000 - 100%|██████████| 4/4 [00:02<00:00,  2.00it/s]"
       for i in range(70)]
    + ["2024-12-17T21:05:00.000000 - Prompt executed in 290.00 seconds", ""]
)


def test_a_bar_finished_late_keeps_its_times_when_records_spill(
        monkeypatch: pytest.MonkeyPatch, each_segmenter: str) -> None:
    in_memory = report_to_dict(analyze_text(LATE_BAR_LOG))
    assert in_memory["progress_bars"][2]["started_at"] is not None  # the late bar, line 4
    monkeypatch.setattr(comfylog.spool, "BLOCK", 3)
    monkeypatch.setattr(comfylog.segment.segmenter, "RELEASE_EVERY", 2)
    assert report_to_dict(analyze_text(LATE_BAR_LOG)) == in_memory


def test_the_index_files_each_runs_prompts_as_a_range_where_they_come_in_one_stretch() -> None:
    """A run's prompts are one stretch of the table nearly always: the index keeps two numbers a run, not an
    array each (3 MB for the 1 GB benchmark's 12,277 runs, held beside the next analysis by compare); a run
    met again after another's prompts turns the filing into arrays, with the same answers."""
    report = empty_report()
    report.prompts.extend(prompts(100))  # runs 0-9, ten prompts each
    index = ReportIndex(report)
    assert index._by_run._arrays is None and index._by_run.get(3) == range(30, 40)
    assert [p.index for p in index.prompts_of_run(3)] == list(range(30, 40)) and index.prompts_of_run(12) == []
    mixed = empty_report()
    mixed.prompts.extend(Prompt(index=i, run=run, got_at=None, line=i) for i, run in enumerate([0, 0, 1, 1, 0, 2]))
    index = ReportIndex(mixed)
    assert index._by_run._arrays is not None
    assert [[p.index for p in index.prompts_of_run(run)] for run in (0, 1, 2, 3)] == [[0, 1, 4], [2, 3], [5], []]
    assert [p.index for p in index.prompts_of_runs([2, 0])] == [0, 1, 4, 5]
