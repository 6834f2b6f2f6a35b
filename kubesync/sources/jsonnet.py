"""`*.jsonnet` files of a source, evaluated (Argo CD's rule) into rendered SourceFiles.

Evaluation uses the maintained `jsonnet` binding, in a worker process (jsonnet_worker.py) bounded
by sources/bounded.py: time, memory, output size; the Jsonnet stack depth is bounded by the
evaluator itself. Imports stay inside the source root (the worker's import callback); library
folders (`libs`, `-J`) must be inside it too. Top-level arguments and external variables come
from kubesync.yaml's `source: {jsonnet: ...}` or the --tla/--ext-str flags.

A program's output is a Kubernetes object or an array of them (nested arrays are flattened); each
becomes a JSON document of a SourceFile named after the .jsonnet file, so errors and plans point at
the file a person can open. Results are kept in the render cache with the files each imported.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kubesync.errors import SourceError, cut, printable
from kubesync.manifests import SourceFile
from kubesync.sources import bounded
from kubesync.sources.rendercache import CACHE, digest, file_digest
from kubesync.sources.spec import DEFAULT_MAX_SOURCE_BYTES, JsonnetOptions

log = logging.getLogger(__name__)

SUFFIX = ".jsonnet"
WORKER = Path(__file__).with_name("jsonnet_worker.py")
TIMEOUT = 30.0
MAX_STACK = 500
MAX_MEMORY = 512 * bounded.MiB  # a Jsonnet app of thousands of objects takes under 100 MiB


def is_jsonnet(name: str) -> bool:
    return name.endswith(SUFFIX)


def _request(root: str, folder: str, files: list[str], options: JsonnetOptions, display: str) -> dict:
    """The worker's request; library folders are relative to the source folder and stay inside the root."""
    libs = []
    for lib in options.libs:
        path = os.path.realpath(os.path.join(folder, lib))
        if not (path == root or path.startswith(root.rstrip(os.sep) + os.sep)):
            raise SourceError(f"{display}: jsonnet library folder {printable(lib)!r} leaves the source root")
        libs.append(path)
    return {"root": root, "files": files, "libs": libs, "max_stack": MAX_STACK,
            "tla_vars": dict(options.tlas), "tla_codes": dict(options.tla_code),
            "ext_vars": dict(options.ext_vars), "ext_codes": dict(options.ext_code)}


def evaluate(folder: Path, rel_paths: Iterable[str], options: JsonnetOptions | None, *, boundary: Path,
             prefix: str = "", max_bytes: int | None = None, cacheable: bool = True) -> list[SourceFile]:
    """Evaluate each `rel_paths` file (relative to `folder`) into a SourceFile; imports stay inside `boundary`.

    `prefix` names the files in messages (the sub-folder of the source); `cacheable=False` for a
    temporary checkout whose paths will not exist again (the caller keys its own cache then).
    """
    rels = sorted(rel_paths)
    if not rels:
        return []
    options = options or JsonnetOptions()
    real_root, real_folder = os.path.realpath(boundary), os.path.realpath(folder)
    files = [os.path.join(real_folder, r) for r in rels]
    request = _request(real_root, real_folder, files, options, prefix or ".")
    key = digest("jsonnet", request, [file_digest(f) for f in files])
    cached = CACHE.get(key) if cacheable else None
    if cached is None:
        cached = _run(request, real_folder, prefix, max_bytes or DEFAULT_MAX_SOURCE_BYTES)
        outputs, deps = cached
        if cacheable:
            CACHE.put(key, cached, sum(len(o) for o in outputs), tuple(deps))
    outputs, _ = cached
    return [SourceFile(_origin(prefix, rel), data, rendered=True, json=True) for rel, data in zip(rels, outputs)]


def _origin(prefix: str, rel: str) -> str:
    return printable(f"{prefix}/{rel}" if prefix else rel)


def _run(request: dict, root: str, prefix: str, max_bytes: int) -> tuple[list[bytes], list[tuple[str, str]]]:
    limits = bounded.Limits(timeout=TIMEOUT, max_output=max_bytes, max_memory=MAX_MEMORY)
    what = f"jsonnet ({len(request['files'])} file{'s' if len(request['files']) != 1 else ''} in {prefix or '.'})"
    with tempfile.TemporaryDirectory(prefix="kubesync-jsonnet-") as home:
        try:
            result = bounded.run([sys.executable, "-I", str(WORKER)], what, limits, env=bounded.clean_env(Path(home)),
                                 cwd=root, stdin=json.dumps(request).encode())
        except bounded.Bounded as e:
            raise SourceError(f"{_origin(prefix, '') or '.'}: {e}") from None
    if result.returncode != 0:
        raise SourceError(f"{prefix or '.'}: the jsonnet evaluator failed: {cut(_rename(result.stderr, root, prefix))}")
    response = json.loads(result.stdout)
    problems, outputs = [], []
    for item in response["results"]:
        rel = os.path.relpath(item["file"], root)
        if "error" in item:
            problems.append(f"{_origin(prefix, rel)}: jsonnet: {cut(' '.join(_rename(item['error'], root, prefix).split()), 1200)}")
            continue
        outputs.append(_documents(item["output"], _origin(prefix, rel), problems))
    if problems:
        from kubesync.errors import ManifestError

        raise ManifestError(problems)
    return outputs, [tuple(d) for d in response["deps"]]


def _rename(text: str, root: str, prefix: str) -> str:
    """Messages name files as the person knows them, not by the absolute (or temporary) root."""
    return text.replace(root.rstrip("/") + "/", f"{prefix}/" if prefix else "").strip()


def _flatten(value: object, out: list) -> None:
    if isinstance(value, list):
        for item in value:
            _flatten(item, out)
    else:
        out.append(value)


def _documents(output: str, origin: str, problems: list[str]) -> bytes:
    """A program's output as concatenated JSON documents: an object, or the objects of (nested) arrays."""
    value = json.loads(output)
    items: list = []
    _flatten(value, items)
    if isinstance(value, dict) and "kind" not in value and "apiVersion" not in value and value:
        problems.append(f"{origin}: the program's output is an object without apiVersion and kind; "
                        "return a Kubernetes object or an array of them")
        return b""
    return "\n".join(json.dumps(item, separators=(",", ":")) for item in items).encode()
