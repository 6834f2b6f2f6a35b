"""Decrypting one SOPS-encrypted file with the pinned `sops` program, in memory.

sops itself decrypts and checks the file's MAC (nothing here parses the SOPS format beyond reading the
public recipients for messages). The encrypted bytes go to sops through a pipe and the decrypted bytes
come back through one: plaintext never touches a file. Every run is bounded (a timeout, a cap on what
is read back) and sealed off: a private empty HOME, an environment built from scratch (the age
identities in `SOPS_AGE_KEY`, never on a command line; no cloud credentials; outbound HTTP sent to a
closed port, so a file naming a KMS or Vault cannot make sops reach one), and age keys tried first.

Files must name at least one age recipient: kubesync decrypts age keys only (X25519 and age 1.3's
hybrid post-quantum keys; PGP would need a keyring on disk, cloud KMSes credentials kubesync does not
hold), so a file encrypted only for others is refused before sops runs.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from kubesync import tools
from kubesync.documents import Budget, json_documents, yaml_documents
from kubesync.errors import DecryptionError, ToolMissing, cut, printable
from kubesync.sources.keys import Keys

log = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds for one file; sops decrypts a manifest in milliseconds
MAX_OUTPUT = 16 * 1024 * 1024  # plaintext is never larger than its ciphertext; this only stops a runaway
CLOSED_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, every proxied request fails at once

# sops's exit codes (cmd/sops/codes): what went wrong, in words people can act on.
COULD_NOT_RETRIEVE_KEY = 128
TAMPERED = {24: "its MAC cannot be decrypted", 25: "a value fails its authentication tag",
            51: "its MAC does not match its values", 52: "it has no MAC"}

# How sops marks an encrypted file of each format (Flux's kustomize-controller uses the same markers).
_YAML_MARK = re.compile(rb"^sops:[ \t]*(?:#.*)?\r?$", re.M)
_JSON_MARK = re.compile(rb'"sops"\s*:\s*\{')
_MAC_YAML = re.compile(rb"\bmac:\s*['\"]?ENC\[")
_MAC_JSON = re.compile(rb'"mac"\s*:\s*"ENC\[')
_DOTENV_MARK = re.compile(rb"^sops_mac=ENC\[", re.M)
_INI_MARK = re.compile(rb"^\[sops\][ \t]*\r?$", re.M)
_FLAT_RECIPIENT = re.compile(r"age__list_\d+__map_recipient\s*=\s*(\S+)")
_FLAT_KEY_TYPE = re.compile(r"^(?:sops_)?(kms|gcp_kms|azure_kv|hc_vault|pgp)__list_", re.M)
OTHER_KEY_TYPES = {"kms": "AWS KMS", "gcp_kms": "GCP KMS", "azure_kv": "Azure Key Vault", "hc_vault": "Vault", "pgp": "PGP"}


def file_format(path: str) -> str:
    """The format sops reads a file as, by its name (as `sops` itself decides): yaml, json, dotenv, ini or binary."""
    name = path.lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".env"):
        return "dotenv"
    if name.endswith(".ini"):
        return "ini"
    return "binary"


def is_encrypted(data: bytes, fmt: str) -> bool:
    """Whether the bytes are a SOPS-encrypted file of this format (its metadata block and MAC are there)."""
    if fmt == "yaml":
        return bool(_YAML_MARK.search(data) and _MAC_YAML.search(data))
    if fmt in ("json", "binary"):
        return bool(_JSON_MARK.search(data) and _MAC_JSON.search(data))
    if fmt == "dotenv":
        return bool(_DOTENV_MARK.search(data))
    if fmt == "ini":
        return bool(_INI_MARK.search(data) and b"ENC[" in data)
    return False


@dataclass(frozen=True)
class Recipients:
    """Who a file was encrypted for (public: age recipients are public keys), read from its metadata."""

    age: tuple[str, ...] = ()
    others: tuple[str, ...] = ()  # other key types named ("AWS KMS", "PGP", ...)

    def describe(self) -> str:
        parts = [short_recipient(r) for r in self.age] + [f"a {o} key" for o in self.others]
        return ", ".join(parts) or "no recipient kubesync can read"


def short_recipient(recipient: str) -> str:
    """A post-quantum recipient is about 2,000 characters: its start and end identify it in a message."""
    return recipient if len(recipient) <= 80 else f"{recipient[:24]}...{recipient[-12:]}"


def recipients(data: bytes, fmt: str) -> Recipients:
    """The age recipients and other key types of a file's SOPS metadata ('' parts when unreadable)."""
    text = data.decode("utf-8", "replace")
    if fmt in ("dotenv", "ini"):
        kinds = dict.fromkeys(OTHER_KEY_TYPES[k] for k in _FLAT_KEY_TYPE.findall(text))
        return Recipients(tuple(dict.fromkeys(_FLAT_RECIPIENT.findall(text))), tuple(kinds))
    metadata = _metadata(text, fmt)
    age: list[str] = []
    others: list[str] = []
    groups = [metadata] + [g for g in metadata.get("key_groups") or () if isinstance(g, dict)]
    for group in groups:
        for entry in group.get("age") or () if isinstance(group.get("age"), list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("recipient"), str):
                age.append(entry["recipient"])
        others += [name for key, name in OTHER_KEY_TYPES.items() if group.get(key)]
    return Recipients(tuple(dict.fromkeys(age)), tuple(dict.fromkeys(others)))


def _metadata(text: str, fmt: str) -> dict:
    """The `sops` block of every document (merged): only its public fields are read, within the parse limits."""
    found: dict = {}
    parse = json_documents if fmt in ("json", "binary") else yaml_documents
    for doc in parse("<sops metadata>", text, [], Budget()):
        block = doc.value.get("sops") if isinstance(doc.value, dict) else None
        if isinstance(block, dict):
            for key, value in block.items():
                if isinstance(value, list) and isinstance(found.get(key), list):
                    found[key] = found[key] + value
                else:
                    found.setdefault(key, value)
    return found


def decrypt(data: bytes, fmt: str, keys: Keys, display: str) -> bytes:
    """The plaintext of one encrypted file (held in memory only), or one DecryptionError naming the file
    and the recipients that would open it: no key, a wrong key, a tampered file."""
    who = recipients(data, fmt)
    if not who.age:
        raise DecryptionError(f"{display}: SOPS-encrypted for {who.describe()} only; kubesync decrypts age keys: "
                              "add an age recipient (sops updatekeys, or sops --encrypt --age age1...)", (display,))
    if not keys:
        raise DecryptionError(f"{display}: SOPS-encrypted, and no age key was given to decrypt it (it opens with the key "
                              f"of {who.describe()}); give one with --decryption-key-file, SOPS_AGE_KEY_FILE or the sync's "
                              "decryption.secretRef", (display,))
    try:
        program = str(tools.find("sops"))
    except ToolMissing as e:
        raise DecryptionError(f"{display}: SOPS-encrypted, but {e}", (display,)) from None
    code, out, err = _run(program, data, fmt, keys)
    if code == 0:
        return out
    raise DecryptionError(_failure(code, err, display, who, keys), (display,))


def _failure(code: int | None, err: bytes, display: str, who: Recipients, keys: Keys) -> str:
    if code is None:
        return f"{display}: sops did not decrypt it within {TIMEOUT:g}s"
    if code == COULD_NOT_RETRIEVE_KEY:
        return (f"{display}: none of the {keys.describe()} opens it (wrong key): it was encrypted for "
                f"{who.describe()}")
    if code in TAMPERED:
        return (f"{display}: tampered or damaged: {TAMPERED[code]} (sops's integrity check failed), so nothing from it is "
                f"used; re-encrypt it from the plaintext with sops (it opens with the key of {who.describe()})")
    # Nothing of sops's own words that could carry a value: its first line, hex digests scrubbed, cut short.
    first = next((line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()), "")
    first = re.sub(r"[0-9A-Fa-f]{32,}", "...", first)
    return f"{display}: sops could not decrypt it (exit code {code}): {cut(printable(first), 200) or 'no message'}"


def environment(home: str, keys: Keys) -> dict[str, str]:
    """sops's whole environment: nothing of ours leaks in (no cloud credentials, no SOPS_AGE_KEY_CMD)."""
    env = {
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "GNUPGHOME": os.path.join(home, ".gnupg"),
        "PATH": "/usr/bin:/bin",
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "SOPS_DECRYPTION_ORDER": "age",
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "GRPC_PROXY", "grpc_proxy"):
        env[var] = CLOSED_PROXY
    env["SOPS_AGE_KEY"] = "\n".join(keys.identities)
    return env


def _run(program: str, data: bytes, fmt: str, keys: Keys) -> tuple[int | None, bytes, bytes]:
    """(exit code or None on timeout, stdout, stderr): stdin and stdout are pipes, both bounded."""
    home = tempfile.mkdtemp(prefix="kubesync-sops-home-")
    argv = [program, "decrypt", "--input-type", fmt, "--output-type", fmt]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=environment(home, keys), cwd=home, start_new_session=True)
    except OSError as e:
        shutil.rmtree(home, ignore_errors=True)
        raise DecryptionError(f"cannot run {program}: {e.strerror or e}") from None
    try:
        return _exchange(proc, data)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def _exchange(proc: subprocess.Popen, data: bytes) -> tuple[int | None, bytes, bytes]:
    """Feed stdin and drain stderr on helper threads; read stdout here, up to MAX_OUTPUT, until TIMEOUT."""
    timer = threading.Timer(TIMEOUT, proc.kill)
    errors: list[bytes] = []

    def feed() -> None:
        try:
            proc.stdin.write(data)
        except OSError:
            pass  # sops stopped reading: its exit code says why
        finally:
            proc.stdin.close()

    def drain() -> None:
        errors.append(proc.stderr.read(64 * 1024))
        proc.stderr.read()  # discard the rest, so sops never blocks on a full pipe

    helpers = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain, daemon=True)]
    for t in helpers:
        t.start()
    timer.start()
    chunks, size = [], 0
    try:
        while True:
            chunk = proc.stdout.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_OUTPUT:
                proc.kill()
                raise DecryptionError(f"sops wrote more than {MAX_OUTPUT} bytes; refused")
            chunks.append(chunk)
        code = proc.wait()
    finally:
        timed_out = not timer.is_alive()
        timer.cancel()
        for t in helpers:
            t.join(5)
    if timed_out and code != 0:
        return None, b"", b""
    return code, b"".join(chunks), b"".join(errors)
