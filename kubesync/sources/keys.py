"""The age identities that open SOPS-encrypted manifests, and where they come from.

Sources, all merged (any one that opens a file will do):

- `--decryption-key-file F` (repeatable) and kubesync.yaml's `decryption.keyFiles`: age identity files,
  as `age-keygen -o F` writes them, or a key file mounted into the daemon's pod;
- `SOPS_AGE_KEY_FILE` and `SOPS_AGE_KEY` (sops's own variables), and sops's default file
  `$XDG_CONFIG_HOME/sops/age/keys.txt` when it exists: what `sops decrypt` would use on this machine;
- a Kubernetes Secret named in kubesync.yaml (`decryption: {provider: sops, secretRef: {name, namespace}}`):
  every entry whose name ends in `.agekey`, as Flux's kustomize-controller reads it.

An identity never reaches a log, an error or a command line: each one is registered with the redactor as
soon as it is read, messages name only where keys came from, and sops gets them in its environment
(`SOPS_AGE_KEY`). A key file is read again only when it is replaced (inode, mtime or size changed), like a
kubeconfig's token file, so a daemon picks up a rotated key without a restart and without re-reading it on
every run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from kubesync.errors import DecryptionError, printable
from kubesync.secrets import remember_values

MAX_KEY_FILE = 1024 * 1024  # an identity file of a thousand keys is far below this
AGE_PREFIXES = ("AGE-SECRET-KEY-1", "AGE-SECRET-KEY-PQ-1")  # X25519, and age 1.3's hybrid post-quantum identities
AGEKEY_SUFFIX = ".agekey"  # Flux: the entries of the decryption Secret that hold age identities


@dataclass(frozen=True)
class Keys:
    """Age identities (never shown) and where they came from (shown in messages)."""

    identities: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.identities)

    def __repr__(self) -> str:
        return f"Keys({len(self.identities)} identities from {', '.join(self.origins) or 'nowhere'})"

    __str__ = __repr__

    def __add__(self, other: "Keys") -> "Keys":
        ids = tuple(dict.fromkeys(self.identities + other.identities))
        return Keys(ids, tuple(dict.fromkeys(self.origins + other.origins)))

    def fingerprint(self) -> str:
        """A digest of the identities, to key what was opened with them (in memory; never shown)."""
        return hashlib.sha256("\n".join(sorted(self.identities)).encode()).hexdigest()[:32] if self.identities else ""

    def describe(self) -> str:
        """For messages: how many identities, from where."""
        n = len(self.identities)
        return f"{n} age identit{'y' if n == 1 else 'ies'} from {', '.join(self.origins)}"


def parse(text: str, origin: str) -> Keys:
    """The age identities of an identity file's text. Comments and blank lines are skipped; any other
    line is an error naming the file and line, never quoting it (it may be a key)."""
    found: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(AGE_PREFIXES):
            what = "an age plugin identity (not supported)" if line.startswith("AGE-PLUGIN-") else "not an age identity"
            raise DecryptionError(f"{origin}:{number}: {what}; an age key file holds AGE-SECRET-KEY-... lines "
                                  "(`age-keygen -o FILE` writes one)")
        found.append(line)
    remember_values(found)  # from now on no message can carry one
    if not found:
        raise DecryptionError(f"{origin}: holds no age identity (AGE-SECRET-KEY-... lines)")
    return Keys(tuple(found), (origin,))


class _FileCache:
    """Identity files read once, and again only when replaced (the key rotation of a mounted Secret)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[tuple[int, int, int], Keys]] = {}

    def read(self, path: str, origin: str) -> Keys:
        try:
            st = os.stat(path)
        except OSError as e:
            raise DecryptionError(f"{origin}: cannot read the age key file: {e.strerror or e}") from None
        state = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._seen.get(path)
            if cached is not None and cached[0] == state:
                return cached[1]
        if st.st_size > MAX_KEY_FILE:
            raise DecryptionError(f"{origin}: {st.st_size} bytes, too large for an age key file")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DecryptionError(f"{origin}: cannot read the age key file: {getattr(e, 'strerror', None) or e}") from None
        keys = parse(text, origin)
        with self._lock:
            self._seen[path] = (state, keys)
        return keys


FILES = _FileCache()


def read_file(path: str, origin: str | None = None) -> Keys:
    """The identities of one key file (cached until the file is replaced)."""
    return FILES.read(os.path.abspath(os.path.expanduser(path)), origin or printable(path))


def sops_default_file() -> Path:
    """Where sops itself looks for age keys when nothing else is set."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "sops" / "age" / "keys.txt"


def local(files: tuple[str, ...] = ()) -> Keys:
    """Every identity this process can read without the cluster: the given files, then sops's variables
    and default file. Empty Keys when there is none (plans and compare then run without decrypting)."""
    keys = Keys()
    for path in files:
        keys += read_file(path, f"key file {printable(path)}")
    env_file = os.environ.get("SOPS_AGE_KEY_FILE")
    if env_file:
        keys += read_file(env_file, f"SOPS_AGE_KEY_FILE={printable(env_file)}")
    env_key = os.environ.get("SOPS_AGE_KEY")
    if env_key:
        keys += parse(env_key, "SOPS_AGE_KEY")
    default = sops_default_file()
    if default.is_file():
        keys += read_file(str(default), f"sops's default key file {printable(default)}")
    return keys


def from_secret(secret: dict | None, where: str) -> Keys:
    """Flux's decryption Secret: every data entry named `*.agekey` holds age identities."""
    if secret is None:
        raise DecryptionError(f"decryption Secret {where} does not exist; create it with the age key "
                              f"(kubectl create secret generic ... --from-file=age{AGEKEY_SUFFIX}=key.txt)")
    data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
    keys = Keys()
    for name in sorted(data):
        if not str(name).endswith(AGEKEY_SUFFIX):
            continue
        try:
            text = base64.b64decode(str(data[name]), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise DecryptionError(f"decryption Secret {where}: entry {printable(name)} is not UTF-8 text") from None
        keys += parse(text, f"Secret {where} ({printable(name)})")
    if not keys:
        raise DecryptionError(f"decryption Secret {where} has no entry named *{AGEKEY_SUFFIX}; put the age key "
                              f"under a key such as age{AGEKEY_SUFFIX}")
    return keys
