"""SOPS ciphertext inside a kustomize rendering, opened with the encrypted files the kustomization read.

kustomize reads files from disk, and a file decrypted for it would put plaintext on disk. So kustomize
renders the files as they are in git (ciphertext) and kubesync opens what it made of them afterwards,
in memory, with the encrypted files the kustomization graph reads (sources/kustomize_refs.py lists them):

- a `secretGenerator` `files:` entry: the value is the whole encrypted file -> the file's plaintext;
- `envs:` (a dotenv file): one value per key, each `ENC[...]` -> that key's plaintext, and sops's own
  `sops_*` keys are dropped;
- a resource (an encrypted Secret manifest, renamed, relabelled or moved into a namespace by the
  kustomization): each `ENC[...]` value -> its plaintext, and the `sops` block is dropped.

Each file is decrypted by sops from its original bytes (MAC checked), never from what kustomize made of
it, and only a value found in one of those files is opened: any other ciphertext is refused. A generated
Secret's name suffix is kustomize's hash of the ciphertext: it changes whenever the file is re-encrypted
and says nothing about the plaintext. Only Secrets may hold ciphertext (their values are masked in every
output, another kind's would not be).

Every opened Secret carries `kubesync.io/sops-digest`, a digest of its ciphertext as rendered; without
the key (plan, diff and compare, where allowed) it is sealed instead: its identity and that digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubesync.documents import Budget, Document, json_documents, yaml_documents
from kubesync.errors import DecryptionError, printable
from kubesync.manifests import JSON_SUFFIXES, SourceFile
from kubesync.model import SOPS_DIGEST_ANNOTATION, Manifest
from kubesync.secrets import MIN_REDACT, remember_names, remember_values, value_forms
from kubesync.sources import sops
from kubesync.sources.keys import Keys

ENCRYPTED_VALUE = "ENC["
_DOC_SPLIT = re.compile(r"^---[ \t]*\r?$", re.M)
_DOTENV_LINE = re.compile(r"^([^=#\s][^=]*)=(.*)$")
# "ENC[" and "sops" as they are and base64-encoded at each of the three alignments: a rendering holding none of
# these (whitespace removed: kustomize wraps long base64 values) holds no ciphertext, without parsing it.
_MARKERS = re.compile(rb"ENC\[|sops|RU5DW|VOQ1|FTkNb|c29wc|NvcH|zb3Bz")


def is_ciphertext(value: Any) -> bool:
    """A SOPS-encrypted value (`ENC[AES256_GCM,data:...]`)."""
    return isinstance(value, str) and value.startswith(ENCRYPTED_VALUE)


def leaves(value: Any, at: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every scalar of a parsed document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, f"{at}.{k}" if at else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, f"{at}[{i}]")
    else:
        yield at, value


def pairs(encrypted: Any, plain: Any, section: str = "") -> Iterator[tuple[str, Any, str]]:
    """(ciphertext, plaintext, Secret field) of each value that was encrypted, walking an encrypted document
    and its decrypted form side by side; the field is `data` or `stringData` (stringData when neither)."""
    if is_ciphertext(encrypted):
        yield encrypted, plain, section or "stringData"
    elif isinstance(encrypted, dict) and isinstance(plain, dict):
        for key, value in encrypted.items():
            if key in plain:
                yield from pairs(value, plain[key], section or (key if key in ("data", "stringData") else ""))
    elif isinstance(encrypted, list) and isinstance(plain, list):
        for a, b in zip(encrypted, plain):
            yield from pairs(a, b, section)


def documents(path: str, data: bytes, problems: list[str]) -> list[Document]:
    parse = json_documents if path.lower().endswith(JSON_SUFFIXES) else yaml_documents
    return list(parse(path, data.decode("utf-8", "replace"), problems, Budget()))


def _decoded(value: Any) -> bytes | None:
    """A data value's bytes, or None when it is not base64."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def holds_ciphertext(obj: Any) -> bool:
    """Whether a rendered document carries SOPS ciphertext anywhere: a `sops` block, an `ENC[...]` value, or a
    data value that decodes to one (or to a whole encrypted file, or to sops's dotenv metadata)."""
    if not isinstance(obj, dict):
        return False
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    if "sops" in obj or "sops_mac" in data or any(is_ciphertext(v) for _, v in leaves(obj)):
        return True
    for value in data.values():
        raw = _decoded(value)
        if raw is not None and (raw.startswith(ENCRYPTED_VALUE.encode()) or any(
                sops.is_encrypted(raw, fmt) for fmt in ("yaml", "json", "dotenv", "ini"))):
            return True
    return False


def ciphertext_digest(obj: dict) -> str:
    """The digest a Secret opened from a rendering carries: of its ciphertext as rendered (public: ciphertext)."""
    hidden = {k: obj.get(k) for k in ("data", "stringData", "sops")}
    return "sha256:" + hashlib.sha256(json.dumps(hidden, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class _Input:
    """One encrypted file the kustomization reads, decrypted only when its ciphertext is in the rendering."""

    file: SourceFile
    fmt: str
    values: frozenset[str]
    plain: bytes | None = None
    openings: dict[str, tuple[str, str]] = field(default_factory=dict)  # ciphertext -> (plaintext, field)
    dotenv: bool = False


def _input(f: SourceFile) -> _Input:
    fmt = sops.file_format(f.path)
    if fmt == "dotenv":
        values = {m.group(2).strip() for line in f.data.decode("utf-8", "replace").splitlines()
                  if (m := _DOTENV_LINE.match(line))}
        return _Input(f, fmt, frozenset(v for v in values if is_ciphertext(v)), dotenv=True)
    if fmt in ("yaml", "json"):
        values = {v for doc in documents(f.path, f.data, []) for _, v in leaves(doc.value) if is_ciphertext(v)}
        return _Input(f, fmt, frozenset(values))
    return _Input(f, fmt, frozenset())


def _open(item: _Input, keys: Keys) -> None:
    """Decrypt the file (sops checks its MAC) and pair each of its ciphertexts with its plaintext."""
    if item.plain is not None:
        return
    item.plain = sops.decrypt(item.file.data, item.fmt, keys, item.file.path)
    remember_names([item.file.path])
    if item.dotenv:
        plain = dict(m.groups() for line in item.plain.decode("utf-8", "replace").splitlines()
                     if (m := _DOTENV_LINE.match(line)))
        for line in item.file.data.decode("utf-8", "replace").splitlines():
            if (m := _DOTENV_LINE.match(line)) and is_ciphertext(m.group(2).strip()) and m.group(1) in plain:
                item.openings[m.group(2).strip()] = (plain[m.group(1)], "stringData")
    elif item.fmt in ("yaml", "json"):
        before = documents(item.file.path, item.file.data, [])
        after = documents(item.file.path, item.plain, [])
        for a, b in zip(before, after):
            for cipher, plain_value, section in pairs(a.value, b.value):
                text = plain_value if isinstance(plain_value, str) else json.dumps(plain_value)
                item.openings[cipher] = (text, section)
    remember_values(form for text, section in item.openings.values() for form in value_forms(text, section))
    remember_values(value_forms(base64.b64encode(item.plain).decode(), "data"))


@dataclass
class Opened:
    """A rendering with its ciphertext opened (or sealed): the new bytes, which Secrets are sealed
    ((namespace, name)), problems (ciphertext that cannot be opened) and decryption failures."""

    data: bytes
    sealed: frozenset[tuple[str, str]] = frozenset()
    problems: list[str] = field(default_factory=list)
    failures: list[DecryptionError] = field(default_factory=list)


def _hidden(section: str, value: Any) -> tuple[str, Any] | None:
    """What ciphertext a Secret value is: ("value", "ENC[...]") written as it is (a resource's) or base64-encoded
    (a generator's dotenv entry), ("file", bytes) a whole encrypted file (a generator's `files:`), else None."""
    if is_ciphertext(value):
        return "value", value
    raw = _decoded(value) if section == "data" else None
    if raw is None:
        return None
    if raw.startswith(ENCRYPTED_VALUE.encode()):
        return "value", raw.decode("utf-8", "replace")
    if any(sops.is_encrypted(raw, fmt) for fmt in ("yaml", "json", "dotenv", "ini")):
        return "file", raw
    return None


class _Opener:
    """Opens Secrets' values with the inputs, decrypting each input at most once."""

    def __init__(self, inputs: Sequence[SourceFile], keys: Keys):
        self.inputs = [_input(f) for f in inputs]
        self.keys = keys
        self.failures: dict[str, DecryptionError] = {}

    def _source(self, kind: str, cipher: Any) -> _Input | None:
        """The input holding this ciphertext (as one of its values, or as its whole file)."""
        if kind == "file":
            return next((i for i in self.inputs if i.file.data == cipher), None)
        return next((i for i in self.inputs if cipher in i.values), None)

    def known(self, obj: dict) -> bool:
        """Whether every ciphertext of a Secret is found in an input (nothing is decrypted)."""
        return all(self._source(*hidden) is not None for _, _, hidden in _hidden_values(obj))

    def _plaintext(self, item: _Input, kind: str, cipher: Any) -> str | bytes | None:
        if item.file.path in self.failures:
            return None
        try:
            _open(item, self.keys)
        except DecryptionError as e:
            self.failures[item.file.path] = e
            return None
        if kind == "file":
            return item.plain
        return item.openings[cipher][0] if cipher in item.openings else None

    def secret(self, obj: dict) -> bool:
        """Open every ciphertext of a Secret in place; False when one cannot be opened."""
        complete, dotenv = True, False
        for section, key, (kind, cipher) in list(_hidden_values(obj)):
            item = self._source(kind, cipher)
            plain = self._plaintext(item, kind, cipher) if item is not None else None
            if plain is None:
                complete = False
                continue
            values = obj[section]
            if kind == "file" or not is_ciphertext(values[key]):  # the value was base64 of the ciphertext
                values[key] = base64.b64encode(plain if isinstance(plain, bytes) else plain.encode()).decode()
            else:
                values[key] = plain
            dotenv = dotenv or item.dotenv
        data = obj.get("data")
        if dotenv and isinstance(data, dict):  # sops's metadata, which kustomize read as entries of the env file
            for key in [k for k in data if k.startswith("sops_")]:
                del data[key]
        obj.pop("sops", None)
        return complete and not holds_ciphertext(obj)


def _hidden_values(obj: dict) -> Iterator[tuple[str, str, tuple[str, Any]]]:
    """(section, key, (kind, ciphertext)) of each encrypted value of a Secret's data and stringData."""
    for section in ("data", "stringData"):
        values = obj.get(section)
        for key, value in values.items() if isinstance(values, dict) else ():
            if not (section == "data" and str(key).startswith("sops_")) and (hidden := _hidden(section, value)):
                yield section, key, hidden


def open_rendering(f: SourceFile, inputs: Sequence[SourceFile], keys: Keys, *, sealed_ok: bool) -> Opened:
    """The rendering `f` with each Secret's ciphertext opened by `keys` (or, without keys where `sealed_ok`,
    sealed); any other document holding ciphertext is a problem. Documents without ciphertext keep their bytes."""
    if not _MARKERS.search(re.sub(rb"\s+", b"", f.data)):
        return Opened(f.data)
    chunks = [(chunk, documents(f.path, chunk.encode(), [])) for chunk in _DOC_SPLIT.split(f.data.decode("utf-8", "replace"))]
    if not any(holds_ciphertext(d.value) for _, docs in chunks for d in docs):
        return Opened(f.data)
    opener = _Opener(inputs, keys)
    out, sealed, problems = [], set(), []
    for chunk, docs in chunks:
        if not any(holds_ciphertext(d.value) for d in docs):
            out.append(chunk)
            continue
        for doc in docs:
            obj = doc.value
            if not holds_ciphertext(obj):
                out.append(json.dumps(obj))
                continue
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            what = f"{f.path}: {printable(str(obj.get('kind') or 'a document'))} {printable(str(meta.get('name') or ''))}".rstrip()
            if (obj.get("apiVersion"), obj.get("kind")) != ("v1", "Secret"):
                problems.append(f"{what}: holds SOPS ciphertext, but only Secrets may (their values are masked in every "
                                "output, another kind's would not be)")
                continue
            mark = ciphertext_digest(obj)
            if keys or not sealed_ok:
                if not opener.secret(obj):
                    if not opener.failures:
                        problems.append(f"{what}: holds SOPS ciphertext that no encrypted file the kustomization reads "
                                        "holds as it is (copied or changed by the kustomization?); it is not applied")
                    continue
                _remember(obj)
            else:
                if not opener.known(obj):
                    problems.append(f"{what}: holds SOPS ciphertext that no encrypted file the kustomization reads "
                                    "holds as it is (copied or changed by the kustomization?); it is not applied")
                    continue
                obj = {k: v for k, v in obj.items() if k not in ("sops", "data", "stringData")}
                if any(is_ciphertext(v) for _, v in leaves(obj)):
                    problems.append(f"{what}: more than its data is encrypted: without the key this Secret cannot "
                                    "even be named; encrypt only data and stringData")
                    continue
                meta = obj.setdefault("metadata", {})
                sealed.add((str(meta.get("namespace") or ""), str(meta.get("name") or "")))
            meta = obj.setdefault("metadata", {})
            annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
            meta["annotations"] = {**annotations, SOPS_DIGEST_ANNOTATION: mark}
            out.append(json.dumps(obj))
    joined = "\n---\n".join(c.strip("\n") for c in out if c.strip())
    return Opened(joined.encode(), frozenset(sealed), problems, list(opener.failures.values()))


def _remember(obj: dict) -> None:
    """A Secret's values are secret whether or not they were encrypted: all of them go to the redactor."""
    for section in ("data", "stringData"):
        values = obj.get(section)
        if isinstance(values, dict):
            remember_values(form for v in values.values() if isinstance(v, str) for form in value_forms(v, section))


@dataclass(frozen=True)
class DecryptedValues:
    """SOPS-encrypted values files a renderer (helm) was given decrypted: its Secrets carry `digest` (so a saved
    plan keeps only markers for them and a plan without the key says which file it needs); no other kind may hold
    one of `values` (a decrypted value in a Deployment's env is readable by whoever reads Deployments: reference a
    Secret instead). Held in memory only."""

    digest: str
    """Of the encrypted files' ciphertext (public)."""
    values: frozenset[str]
    """The plaintext of each value that was encrypted, at least MIN_REDACT characters (shorter ones would be found
    by chance in unrelated text, as the redactor knows)."""
    files: tuple[str, ...]


def decrypted_values(files: Sequence[tuple[str, bytes, bytes]]) -> DecryptedValues | None:
    """What (name, ciphertext, plaintext) of the values files a renderer was given decrypted say (None: none were)."""
    if not files:
        return None
    values: set[str] = set()
    for name, data, plain in files:
        for a, b in zip(documents(name, data, []), documents(name, plain, [])):
            values |= {v if isinstance(v, str) else json.dumps(v) for _, v, _ in pairs(a.value, b.value)}
    mark = "sha256:" + hashlib.sha256(b"".join(hashlib.sha256(data).digest() for _, data, _ in files)).hexdigest()[:32]
    return DecryptedValues(mark, frozenset(v for v in values if len(v) >= MIN_REDACT), tuple(n for n, _, _ in files))


def mark_rendered(manifests: Sequence[Manifest], opened: DecryptedValues) -> tuple[list[Manifest], list[str]]:
    """The rendering's Secrets marked with the values files' digest, and problems: another kind holding a value."""
    out, problems = [], []
    for m in manifests:
        if m.ref.group == "" and m.ref.kind == "Secret":
            meta = m.obj.setdefault("metadata", {})
            annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
            meta["annotations"] = {**annotations, SOPS_DIGEST_ANNOTATION: opened.digest}
        else:
            strings = [v for _, v in leaves(m.obj) if isinstance(v, str)]
            if any(value in text for text in strings for value in opened.values):
                problems.append(f"{m}: holds a value decrypted from {', '.join(opened.files)}; only Secrets may (whoever can "
                                f"read a {m.ref.kind} could read it): put it in a Secret and reference that "
                                "(env valueFrom.secretKeyRef, a secret volume)")
        out.append(m)
    return out, problems


def encrypted_inputs(paths: Iterable[tuple[str, str]], max_bytes: int) -> tuple[SourceFile, ...]:
    """The SOPS-encrypted files among (real path, name people know) pairs, as SourceFiles under their known names
    (their ciphertext: public). Files over `max_bytes` are not read (kustomize refuses nothing for size, but no
    encrypted file a Secret needs is that large)."""
    found = []
    for path, display in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError:
            continue
        if len(data) <= max_bytes and sops.is_encrypted(data, sops.file_format(path)):
            found.append(SourceFile(display, data))
    return tuple(found)
