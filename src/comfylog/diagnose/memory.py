"""What the out-of-memory rules share: how big the job was, and how to make it smaller."""

from __future__ import annotations


def job_text(video: dict[str, int]) -> str:
    """``121 frames at 704x704 with 3 steps``."""
    return f"{video['frames']} frames at {video['width']}x{video['height']} with {video['steps']} steps"


def smaller_job_advice(video: dict[str, int] | None) -> str:
    """The first thing to try after running out of memory: a smaller job than the one that failed."""
    if video:
        return f"Fewer frames or a lower resolution than {video['frames']} frames at {video['width']}x{video['height']}"
    return "Lower the resolution or the batch size"
