"""The image's inputs agree with the package: the lock pins, with hashes, a version of every dependency
pyproject.toml declares (and nothing of the legacy-auth extra), and the Dockerfile pins its bases by
digest and labels the package's version. `make image-smoke` tests the built image itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kubesync import __version__

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "deploy" / "image" / "requirements.lock"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every entry of the lock."""
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    out = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line:
            spec, *options = line.split(" --hash=")
            name, version = spec.strip().split("==")
            out[canonicalize_name(name)] = (version, options)
    return out


def test_the_lock_pins_every_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entries = locked()
    for dep in map(Requirement, project["dependencies"]):
        name = canonicalize_name(dep.name)
        assert name in entries, f"{dep.name} is a dependency but not in {LOCK.name}: run `make lock`"
        assert dep.specifier.contains(entries[name][0]), f"{LOCK.name} pins {dep.name}=={entries[name][0]}, outside {dep}"
    for name, (version, hashes) in entries.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h.strip()) for h in hashes), f"{name}: no sha256 hashes"
    assert "kubernetes" not in entries, "the official client is the legacy-auth extra, not in the image"


def test_the_dockerfile_pins_its_bases_and_labels_the_version():
    text = DOCKERFILE.read_text()
    images = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, re.M)
    assert len(images) == 2 and all(re.search(r"@sha256:[0-9a-f]{64}$", i) for i in images), images
    assert all(f.split()[1].startswith("${") for f in re.findall(r"^FROM .*$", text, re.M)), "every FROM uses a pinned ARG"
    assert f'org.opencontainers.image.version="{__version__}"' in text
    assert "--require-hashes" in (ROOT / "deploy" / "image" / "setup.sh").read_text()
