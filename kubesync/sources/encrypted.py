"""A source's files -> Manifests, SOPS-encrypted ones decrypted in memory (or sealed, without the key).

Flux's rule: only Secrets are encrypted (`apiVersion: v1, kind: Secret` with a `sops` block); their values
are masked in every output, which a decrypted ConfigMap's would not be, so another kind is refused.
A decrypted Secret carries `kubesync.io/sops-digest`, a digest of its file's ciphertext, which is what a
plan without the key compares: the same digest is "unchanged", another is "changed (encrypted)".

- With keys: each encrypted file is decrypted by sops (MAC checked), every value that was encrypted is
  registered with the redactor before anything else happens, and the plaintext is parsed like any file
  (its line numbers are sops's, so origins name the file only).
- Without keys, where the caller allows it (`plan`, `diff` and `compare` for someone without the key):
  each encrypted Secret becomes a sealed Manifest: its identity and digest, no values.
- Without keys where it must apply (apply, the daemon): one DecryptionError naming every file and its recipients.

The source's revision is computed from the files as read (ciphertext), never from plaintext: a hash of a
short secret would be guessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import replace

from kubesync.documents import Document, ParseLimits
from kubesync.errors import DecryptionError, ManifestError
from kubesync.manifests import SourceFile, load_files as parse_files
from kubesync.model import SOPS_DIGEST_ANNOTATION, Manifest
from kubesync.secrets import remember_names, remember_values, value_forms
from kubesync.sources import ciphertext, sops
from kubesync.sources.keys import Keys

FLUX_HINT = "encrypt only data and stringData: sops --encrypt --encrypted-regex '^(data|stringData)$'"


def digest(data: bytes) -> str:
    """The ciphertext's digest a decrypted Secret carries (public: it is a hash of ciphertext)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32]


def is_encrypted_manifest(file: SourceFile) -> bool:
    fmt = sops.file_format(file.path)
    return fmt in ("yaml", "json") and not file.rendered and sops.is_encrypted(file.data, fmt)


def load_files(files: Iterable[SourceFile], problems: Iterable[str] = (), keys: Keys | None = None,
               *, sealed_ok: bool = False, max_nodes: int | None = None,
               inputs: Sequence[SourceFile] = ()) -> tuple[Manifest, ...]:
    """Every file -> Manifests (manifests.load_files), encrypted files opened with `keys` first; all-or-nothing.

    A rendered file (kustomize's output) holding ciphertext is opened with `inputs`, the encrypted files the
    kustomization read (sources/ciphertext.py)."""
    keys = keys or Keys()
    files = list(files)
    found = list(problems)
    opened: list[SourceFile] = []
    marks: dict[str, tuple[str, bool]] = {}  # path -> (digest, sealed)
    sealed_objects: set[tuple[str, str, str]] = set()  # (path, namespace, name) sealed in a rendering
    failures: list[DecryptionError] = []
    for f in files:
        if f.rendered:
            rendering = ciphertext.open_rendering(f, inputs, keys, sealed_ok=sealed_ok)
            found += rendering.problems
            failures += rendering.failures
            sealed_objects |= {(f.path, *ref) for ref in rendering.sealed}
            opened.append(replace(f, data=rendering.data))
            continue
        if not is_encrypted_manifest(f):
            opened.append(f)
            continue
        docs = ciphertext.documents(f.path, f.data, found)
        found += _check_kinds(f.path, docs)
        if keys or not sealed_ok:
            try:
                opened.append(SourceFile(f.path, _decrypt(f, docs, keys), rendered=True))
            except DecryptionError as e:
                failures.append(e)
                continue
            marks[f.path] = (digest(f.data), False)
        else:
            sealed, wrong = _sealed(f.path, docs)
            found += wrong
            opened.append(SourceFile(f.path, sealed, rendered=True))
            marks[f.path] = (digest(f.data), True)
    if failures:
        raise DecryptionError("\n".join(str(e) for e in failures), tuple(p for e in failures for p in e.files))
    manifests = parse_files(opened, found, ParseLimits.for_process(max_nodes))
    return tuple(_marked(m, marks, sealed_objects) for m in manifests)


def load_fileset(fileset, keys: Keys | None = None, *, sealed_ok: bool = False,
                 max_nodes: int | None = None) -> tuple[Manifest, ...]:
    """A source's FileSet (sources.directory) -> Manifests: `load_files`, then a chart rendered with decrypted values
    files has its Secrets marked and any other object holding one of those values refused (sources/ciphertext.py)."""
    manifests = load_files(fileset.files, fileset.problems, keys, sealed_ok=sealed_ok, max_nodes=max_nodes,
                           inputs=fileset.encrypted_inputs)
    if fileset.decrypted is None:
        return manifests
    marked, problems = ciphertext.mark_rendered(manifests, fileset.decrypted)
    if problems:
        raise ManifestError(problems)
    return tuple(marked)


def _check_kinds(path: str, docs: Sequence[Document]) -> list[str]:
    """Only Secrets may be encrypted (as in Flux): their values are masked everywhere, other kinds' are not."""
    wrong = []
    for doc in docs:
        obj = doc.value if isinstance(doc.value, dict) else {}
        kind, api = obj.get("kind"), obj.get("apiVersion")
        if ciphertext.is_ciphertext(kind) or ciphertext.is_ciphertext(api):
            continue  # kind itself encrypted: checked once decrypted (sealed: refused below)
        if (api, kind) != ("v1", "Secret"):
            wrong.append(f"{path}:{doc.line}: {kind or 'a document'} is SOPS-encrypted, but only Secrets may be "
                         "(their values are masked in every output, another kind's would not be); keep it in plain text")
    return wrong


def _decrypt(f: SourceFile, docs: Sequence[Document], keys: Keys) -> bytes:
    """The file's plaintext; every value that was encrypted is registered with the redactor at once."""
    fmt = sops.file_format(f.path)
    plain = sops.decrypt(f.data, fmt, keys, f.path)
    remember_names([f.path])
    opened = ciphertext.documents(f.path, plain, [])
    for before, after in zip(docs, opened):
        remember_values((form for cipher, plain, section in ciphertext.pairs(before.value, after.value)
                         for form in value_forms(plain if isinstance(plain, str) else json.dumps(plain), section)))
    for after in opened:  # a Secret's values are secret whether or not they were encrypted
        if isinstance(after.value, dict):
            for field in ("data", "stringData"):
                section = after.value.get(field)
                if isinstance(section, dict):
                    remember_values(form for v in section.values() if isinstance(v, str) for form in value_forms(v, field))
    return plain


def _sealed(path: str, docs: Sequence[Document]) -> tuple[bytes, list[str]]:
    """Without the key: each Secret's identity and type, no values (as JSON documents, which YAML reads)."""
    out, wrong = [], []
    for doc in docs:
        obj = {k: v for k, v in doc.value.items() if k not in ("sops", "data", "stringData")} if isinstance(doc.value, dict) else {}
        hidden = [k for k, v in ciphertext.leaves(obj) if ciphertext.is_ciphertext(v)]
        if hidden:
            wrong.append(f"{path}:{doc.line}: {', '.join(hidden[:3])} encrypted: without the key this Secret cannot even be "
                         f"named; {FLUX_HINT}")
            continue
        out.append(json.dumps(obj, sort_keys=True))
    return "\n---\n".join(out).encode(), wrong


def _marked(m: Manifest, marks: dict[str, tuple[str, bool]], sealed_objects: set[tuple[str, str, str]]) -> Manifest:
    meta = m.obj.get("metadata") if isinstance(m.obj.get("metadata"), dict) else {}
    if (m.origin.path, str(meta.get("namespace") or ""), str(meta.get("name") or "")) in sealed_objects:
        return replace(m, sealed=True)  # opened from a rendering: marked there
    mark = marks.get(m.origin.path)
    if mark is None:
        return m
    meta = m.obj.setdefault("metadata", {})
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
    meta["annotations"] = {**annotations, SOPS_DIGEST_ANNOTATION: mark[0]}
    return replace(m, sealed=True) if mark[1] else m


def refuse_sealed(manifests: Sequence[Manifest]) -> None:
    """For runs that write: a sealed Secret cannot be applied (raises naming each file)."""
    paths = tuple(dict.fromkeys(m.origin.path for m in manifests if m.sealed))
    if paths:
        raise DecryptionError("\n".join(f"{p}: SOPS-encrypted, and no age key was given to decrypt it" for p in paths), paths)


__all__ = ["ManifestError", "digest", "is_encrypted_manifest", "load_files", "load_fileset", "refuse_sealed"]
