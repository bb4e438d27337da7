"""What PyTorch's out-of-memory message says about the GPU's memory at the moment it failed.

PyTorch states the figures itself, in one of three forms:
- the caching allocator (PyTorch 2.1 and later, c10/cuda/CUDACachingAllocator.cpp), one line: ``Tried to
  allocate 2.50 GiB. GPU 0 has a total capacity of 23.99 GiB of which 1.03 GiB is free. Process 4242 has
  9.20 GiB memory in use. Including non-PyTorch memory, this process has 13.60 GiB memory in use. Of the
  allocated memory 12.10 GiB is allocated by PyTorch, and 1.05 GiB is reserved by PyTorch but unallocated.``
- the same before 2.1: ``Tried to allocate 36.00 MiB (GPU 0; 7.93 GiB total capacity; 130.35 MiB already
  allocated; 47.06 MiB free; 188.00 MiB reserved in total by PyTorch)``;
- the cudaMallocAsync allocator (CUDAMallocAsyncAllocator.cpp), one figure a line after ``Allocation on device
  0 would exceed allowed memory``: ``Currently allocated : 7.71 GiB``, ``Requested``, ``Device limit``, ``Free
  (according to CUDA)`` (the message table's ``oom_memory_figure`` rows).
From them: whether another process held part of the GPU, and whether the memory PyTorch had reserved but not
used (fragmentation) would have held what it asked for.
"""

from __future__ import annotations

from dataclasses import field

from ..dataclass import dataclass
from ..events import EventKind
from ..lazyre import lazy_re
from ..model import ErrorRecord, Evidence
from ..text import mib_text
from .facts import Facts

SIZE = r"\d+(?:\.\d+)? ?(?:bytes|[KMGTP]iB)"
CACHING = lazy_re(rf"Tried to allocate (?P<requested>{SIZE})\. GPU \d+ has a total capac(?:i)?ty of "
                     rf"(?P<total>{SIZE}) of which (?P<free>{SIZE}) is free\.")
OTHER_PROCESS = lazy_re(rf"Process (?P<pid>\d+) has (?P<size>{SIZE}) memory in use")
THIS_PROCESS = lazy_re(rf"this process has (?P<size>{SIZE}) memory in use")
#: ``..., with X allocated in private pools (e.g., CUDA Graphs), and ...`` comes between the two in PyTorch 2.2+.
BY_PYTORCH = lazy_re(rf"Of the allocated memory (?P<allocated>{SIZE}) is allocated by PyTorch, (?:with [^,]*, )?and "
                        rf"(?P<reserved>{SIZE}) is reserved by PyTorch but unallocated")
BEFORE_2_1 = lazy_re(rf"Tried to allocate (?P<requested>{SIZE}) \(GPU \d+; (?P<total>{SIZE}) total capacity; "
                        rf"(?P<allocated>{SIZE}) already allocated; (?P<free>{SIZE}) free; "
                        rf"(?P<reserved>{SIZE}) reserved in total by PyTorch\)")
UNITS = {"bytes": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "TiB": 1024.0**2, "PiB": 1024.0**3}
#: The cudaMallocAsync figures follow their OOM line within this many lines.
ASYNC_FIGURES_WITHIN = 8
#: Memory held outside ComfyUI's process (another process on the GPU) worth naming, MiB.
OTHER_PROCESS_MIN_MB = 1024.0
#: Memory outside PyTorch's live tensors worth naming under cudaMallocAsync: the CUDA context, cuDNN and cuBLAS
#: workspaces take about a GiB on their own, so only a gap this large (MiB), and this share of the GPU, says more.
OUTSIDE_PYTORCH_MIN_MB = 2048.0
OUTSIDE_PYTORCH_MIN_SHARE = 0.25
#: Reserved and unused memory (MiB) below this is no fragmentation worth a setting, whatever was asked.
FRAGMENTED_MIN_MB = 512.0


SIZE_PARTS = lazy_re(r"(?<![\d.])(\d+(?:\.\d+)?) ?(bytes|[KMGTP]iB)")


def mib(size: str) -> float:
    """``7.71 GiB``, ``0 bytes``: MiB."""
    m = SIZE_PARTS.fullmatch(size)
    if m is None:
        raise ValueError(f"not a size: {size!r}")
    return float(m[1]) * UNITS[m[2]]


@dataclass
class OomFigures:
    """One OOM's memory figures, MiB; None where the message's form does not give one."""

    form: str  # "caching", "before-2.1", "async"
    requested: float | None = None
    total: float | None = None
    free: float | None = None
    #: PyTorch's live tensors.
    allocated: float | None = None
    #: Reserved by PyTorch and not in use ("before-2.1": all it reserved).
    reserved: float | None = None
    #: ComfyUI's whole process on the GPU, PyTorch and not.
    process: float | None = None
    #: Other processes the driver listed: (pid, MiB).
    others: list[tuple[str, float]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def other_processes_mb(self) -> float | None:
        """What other processes held: as listed, else what neither ComfyUI's process nor free memory accounts for.

        Only when the message names ComfyUI's own process (``this process has``): PyTorch finds it by its
        process id, which inside a container (RunPod, Docker) is not the one the driver reports, so there
        ComfyUI itself is listed as ``Process N`` and the listed processes cannot be told apart.
        """
        if self.process is None:
            return None
        if self.others:
            return sum(mb for _, mb in self.others)
        if self.total is not None and self.free is not None:
            return max(0.0, self.total - self.free - self.process)
        return None

    @property
    def outside_pytorch_mb(self) -> float | None:
        """What the GPU had in use beyond PyTorch's memory, where the message does not split it by process:
        beyond its live tensors (cudaMallocAsync), beyond all it reserved (before 2.1)."""
        held = {"async": self.allocated, "before-2.1": self.reserved}.get(self.form)
        if held is None or self.total is None or self.free is None:
            return None
        return max(0.0, self.total - self.free - held)

    @property
    def other_process_named(self) -> bool:
        """Other processes held enough of the GPU to name them."""
        return (self.other_processes_mb or 0.0) >= OTHER_PROCESS_MIN_MB

    @property
    def outside_pytorch_named(self) -> bool:
        """Enough of the GPU was in use beyond PyTorch's memory to name it."""
        outside = self.outside_pytorch_mb
        return (outside is not None and self.total is not None and outside >= OUTSIDE_PYTORCH_MIN_MB
                and outside >= OUTSIDE_PYTORCH_MIN_SHARE * self.total)

    @property
    def reserved_unused_mb(self) -> float | None:
        """What PyTorch had reserved and was not using ("before-2.1" states all it reserved)."""
        if self.reserved is None:
            return None
        return self.reserved if self.form == "caching" else self.reserved - (self.allocated or 0.0)

    @property
    def fragmented(self) -> bool:
        """PyTorch had more reserved and unused than it asked for: the request failed for want of one piece."""
        unused = self.reserved_unused_mb
        if self.requested is None or unused is None:
            return False
        return unused >= max(self.requested, FRAGMENTED_MIN_MB)


def oom_figures(facts: Facts, record: ErrorRecord) -> OomFigures | None:
    """The memory figures of ``record``'s OOM message, None when it states none."""
    message = record.message
    found: OomFigures | None = None
    if m := CACHING.search(message):
        found = OomFigures("caching", mib(m["requested"]), mib(m["total"]), mib(m["free"]))
        found.others = [(o["pid"], mib(o["size"])) for o in OTHER_PROCESS.finditer(message)]
        if p := THIS_PROCESS.search(message):
            found.process = mib(p["size"])
        if a := BY_PYTORCH.search(message):
            found.allocated, found.reserved = mib(a["allocated"]), mib(a["reserved"])
    elif m := BEFORE_2_1.search(message):
        found = OomFigures("before-2.1", mib(m["requested"]), mib(m["total"]), mib(m["free"]), mib(m["allocated"]),
                           mib(m["reserved"]))
    else:
        lines = facts.between(EventKind.OOM_MEMORY, record.source, record.line, record.line + ASYNC_FIGURES_WITHIN)
        figures = {str(ev.fields["figure"]): mib(str(ev.fields["size"])) for ev in lines}
        if {"Currently allocated", "Device limit", "Free (according to CUDA)"} <= figures.keys():
            found = OomFigures("async", figures.get("Requested"), figures["Device limit"],
                               figures["Free (according to CUDA)"], figures["Currently allocated"])
            found.evidence = [facts.cite_event(ev) for ev in lines if ev.fields["figure"] != "Requested"]
    return found


def describe(f: OomFigures, which: str = "it") -> str:
    """The figures as a sentence, with what they show; ``which`` OOM they are of (``the first``)."""
    when = f"When {which} failed"
    total = mib_text(f.total) if f.total is not None else "the GPU's memory"
    free = f"{mib_text(f.free)} of {total} were free" if f.free is not None else ""
    asked = f"PyTorch asked for {mib_text(f.requested)} and " if f.requested is not None else ""
    if f.form == "async":
        assert f.allocated is not None
        text = (f" {when}, PyTorch's tensors held {mib_text(f.allocated)} of {total} and CUDA reported "
                f"{mib_text(f.free or 0.0)} free")
        if f.outside_pytorch_named:
            text += (f": about {mib_text(f.outside_pytorch_mb or 0.0)} were in use outside PyTorch's tensors (another "
                     "process on the GPU, a library that allocates on its own, or memory the cudaMallocAsync "
                     "allocator's pool kept)")
        return text + "."
    if f.form == "before-2.1" and f.outside_pytorch_named:
        return (f" {when}, {asked}{free}; PyTorch had reserved {mib_text(f.reserved or 0.0)} in all: about "
                f"{mib_text(f.outside_pytorch_mb or 0.0)} were in use outside PyTorch (another process on the GPU, or "
                "a library that allocates on its own).")
    text = f" {when}, {asked}{free}"
    held = []
    if f.process is not None:
        held.append(f"ComfyUI's process held {mib_text(f.process)}")
    elif f.allocated is not None:
        held.append(f"PyTorch's tensors held {mib_text(f.allocated)}")
    if f.other_process_named:
        who = ", ".join(f"process {pid}" for pid, _ in f.others)
        held.append(f"other processes {mib_text(f.other_processes_mb or 0.0)}" + (f" ({who})" if who else ""))
    if held:
        text += "; " + " and ".join(held)
    text += "."
    if f.fragmented:
        text += (f" PyTorch had {mib_text(f.reserved_unused_mb or 0.0)} reserved and unused, more than it asked "
                 "for: the memory was there, in pieces too small (fragmentation).")
    return text
