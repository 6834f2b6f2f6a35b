"""The Jsonnet evaluator's process: `python -I jsonnet_worker.py` with a JSON request on stdin.

It runs in a process of its own so that a hostile program (an endless recursion, a string that
doubles forever) can be killed: the parent (sources/jsonnet.py) bounds it with a timeout, a memory
limit and an output limit (sources/bounded.py). Imports go through a callback that resolves every
path, symlinks included, and refuses any that leaves the source root. Standalone on purpose: it
imports nothing of kubesync, so it starts in milliseconds.

Request:  {"root", "files": [...], "libs": [...], "tla_vars", "tla_codes", "ext_vars", "ext_codes", "max_stack"}
Response: {"results": [{"file", "output"} | {"file", "error"}], "deps": [[path, sha256], ...]}
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

MAX_IMPORT_BYTES = 4 * 2**20
MAX_IMPORTED_BYTES = 64 * 2**20


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Importer:
    """The import callback: files inside the root only, each read once, bounded in size, recorded as deps."""

    def __init__(self, root: str, libs: list[str]):
        self.root, self.libs = root, libs
        self.deps: dict[str, str] = {}
        self.total = 0

    def __call__(self, base: str, rel: str) -> tuple[str, bytes]:
        candidates = [rel] if os.path.isabs(rel) else [os.path.join(base, rel)] + [os.path.join(lib, rel) for lib in self.libs]
        first = os.path.realpath(candidates[0])
        if not _inside(first, self.root):
            raise RuntimeError(f"import {rel!r} leaves the source root; imports stay inside it")
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if _inside(real, self.root) and os.path.isfile(real):
                return candidate, self.read(real, rel)
        raise RuntimeError(f"import {rel!r} not found (looked beside the importing file and in the library folders)")

    def read(self, real: str, rel: str) -> bytes:
        if os.path.getsize(real) > MAX_IMPORT_BYTES:
            raise RuntimeError(f"import {rel!r} is over {MAX_IMPORT_BYTES // 2**20} MiB")
        with open(real, "rb") as f:
            data = f.read(MAX_IMPORT_BYTES + 1)
        self.total += len(data)
        if len(data) > MAX_IMPORT_BYTES or self.total > MAX_IMPORTED_BYTES:
            raise RuntimeError(f"import {rel!r}: the imports pass {MAX_IMPORTED_BYTES // 2**20} MiB in all")
        self.deps[real] = hashlib.sha256(data).hexdigest()
        return data


def evaluate(request: dict) -> dict:
    import _jsonnet

    importer = Importer(request["root"], request.get("libs") or [])
    results = []
    for path in request["files"]:
        with open(path, "rb") as f:
            importer.deps[os.path.realpath(path)] = hashlib.sha256(f.read()).hexdigest()
        try:
            output = _jsonnet.evaluate_file(
                path, import_callback=importer, max_stack=int(request.get("max_stack", 500)), max_trace=12,
                tla_vars=request.get("tla_vars") or {}, tla_codes=request.get("tla_codes") or {},
                ext_vars=request.get("ext_vars") or {}, ext_codes=request.get("ext_codes") or {},
            )
            results.append({"file": path, "output": output})
        except RuntimeError as e:
            results.append({"file": path, "error": str(e)})
    return {"results": results, "deps": sorted(importer.deps.items())}


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    json.dump(evaluate(request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
