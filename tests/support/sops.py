"""SOPS files for tests: age keys made by the pinned age-keygen, manifests encrypted by the pinned sops.

The plaintext reaches sops through a pipe, as kubesync's own decryption does: nothing a test encrypts is
ever written to a file, so a canary found on disk can only have come from the run under test.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubesync import tools


@dataclass(frozen=True)
class AgeKey:
    file: Path  # the identity file (what --decryption-key-file takes)
    recipient: str  # the public key files are encrypted for


def age_key(folder: Path, name: str = "key", *, post_quantum: bool = False) -> AgeKey:
    """A new age key (X25519, or age 1.3's hybrid post-quantum one) in `folder/name.txt`, mode 0600."""
    path = folder / f"{name}.txt"
    args = [str(tools.find("age-keygen")), *(["-pq"] if post_quantum else []), "-o", str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=30)
    recipient = next(line.split(": ", 1)[1] for line in path.read_text().splitlines() if line.startswith("# public key: "))
    return AgeKey(path, recipient)


def encrypt(plaintext: str, *recipients: str, fmt: str = "yaml", encrypted_regex: str | None = "^(data|stringData)$") -> str:
    """The SOPS-encrypted form of `plaintext` (read from stdin), for the given age recipients."""
    args = [str(tools.find("sops")), "encrypt", "--input-type", fmt, "--output-type", fmt, "--age", ",".join(recipients)]
    if encrypted_regex:
        args += ["--encrypted-regex", encrypted_regex]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/nonexistent"),
           "SOPS_DISABLE_VERSION_CHECK": "1"}
    done = subprocess.run(args + ["/dev/stdin"], input=plaintext.encode(), capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def secret(name: str, namespace: str, **string_data: str) -> str:
    """A Secret manifest with stringData, and one data value (base64) to exercise both fields."""
    lines = [f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\ntype: Opaque\nstringData:"]
    lines += [f"  {k}: {v!r}" for k, v in string_data.items()]
    return "\n".join(lines) + "\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tamper(encrypted: str) -> str:
    """Flip one character of the first encrypted value's ciphertext: sops's authentication must refuse it."""
    at = encrypted.index("ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
    flipped = "A" if encrypted[at] != "A" else "B"
    return encrypted[:at] + flipped + encrypted[at + 1:]


def write_kustomization(folder, ns, recipient, *, password="kust-resource-pw", env_password="kust-env-pw",
                        api_key="kust-file-key"):
    """A kustomization reading three encrypted files: a Secret resource (renamed and relabelled by the kustomization),
    a dotenv file (`envs:`) and a binary file (`files:`), plus a plain ConfigMap."""
    folder.mkdir(exist_ok=True)
    (folder / "settings.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n")
    (folder / "db.yaml").write_text(encrypt(secret("db", ns, password=password), recipient))
    (folder / "app.env").write_text(encrypt(f"password={env_password}\nuser=app\n", recipient, fmt="dotenv",
                                            encrypted_regex=None))
    (folder / "api.key").write_text(encrypt(f"{api_key}\n", recipient, fmt="binary", encrypted_regex=None))
    (folder / "kustomization.yaml").write_text(
        f"namespace: {ns}\nnamePrefix: k-\nlabels:\n- pairs: {{team: shop}}\nresources: [settings.yaml, db.yaml]\n"
        "secretGenerator:\n- name: app\n  envs: [app.env]\n  files: [api.key]\n")
    return folder


def write_chart_with_secrets(folder, ns, recipient, password, user="chart-user"):
    """A chart whose password comes from an encrypted values file (helm-secrets' secrets.yaml), and a kubesync.yaml."""
    (folder / "web" / "templates").mkdir(parents=True)
    (folder / "web" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (folder / "web" / "values.yaml").write_text("db: {password: '', user: ''}\n")
    (folder / "web" / "templates" / "db.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: {{ .Values.db.password | b64enc }}\n"
        "  user: {{ .Values.db.user | b64enc }}\n")
    (folder / "web" / "secrets.yaml").write_text(
        encrypt(f"db:\n  password: {password}\n  user: {user}\n", recipient, encrypted_regex=None))
    (folder / "kubesync.yaml").write_text(
        f"syncs:\n- name: sops-chart\n  namespace: {ns}\n  source:\n    path: ./web\n    helm: {{valuesFiles: [secrets.yaml]}}\n")
    return folder
