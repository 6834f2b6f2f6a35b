"""What this process can hold: its memory limit (the cgroup's, in a pod), and the bounds derived from it
so that the largest input accepted fits with room to spare."""

from __future__ import annotations

DEFAULT_MAX_TOTAL_NODES = 20_000_000  # without a memory limit to derive it from (about 900 MB parsed)
PER_DOCUMENT_NODES = 1_000_000  # one document's own bound (documents.DEFAULT_MAX_NODES): the budget's floor
BYTES_PER_NODE = 256  # what one parsed node costs at most, the later copies of a plan included


def memory_limit() -> int | None:
    """The process's memory limit in bytes (cgroup v2, else v1), None when unlimited or unknown."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read(64).strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # v1 says "unlimited" with a huge number
            return int(text)
        return None
    return None


def total_nodes_for(limit: int | None) -> int:
    """The whole-source node budget a memory limit allows: a quarter of it, at BYTES_PER_NODE each."""
    if limit is None:
        return DEFAULT_MAX_TOTAL_NODES
    return max(PER_DOCUMENT_NODES, min(DEFAULT_MAX_TOTAL_NODES, limit // 4 // BYTES_PER_NODE))


MAX_SOURCE_BYTES = 256 * 2**20  # a source's files together, without a memory limit to derive it from


def source_bytes_for(limit: int | None) -> int:
    """The default total size of a source's files: a sixteenth of the memory limit, at most MAX_SOURCE_BYTES."""
    return MAX_SOURCE_BYTES if limit is None else max(2**20, min(MAX_SOURCE_BYTES, limit // 16))
