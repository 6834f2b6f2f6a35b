"""A fuzz run of the manifest loader: whatever the bytes and the file name, the only outcome is
Manifests or a KubesyncError whose every problem names the (escaped) file; never another exception.

Bounded for CI: a fixed number of examples per strategy, a per-example deadline, well under 30 s.
"""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubesync.errors import KubesyncError, printable
from kubesync.manifests import SourceFile, load_files

FUZZ = settings(max_examples=100, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

VALID = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  labels: &l {app: web}\n"
    "stringData: {password: hunter2}\ndata: {token: dG9rZW4=}\n---\n"
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: *l}\n"
    "spec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: c, image: nginx}]\n"
)
# Fragments that exercise the YAML features attacks use: anchors, aliases, merges, tags, nesting.
TOKENS = ["&a ", "*a", "<<: ", "!!binary ", "!!set ", "!!python/object ", "[", "]", "{", "}", "- ", ": ", "\n",
          "  ", "---\n", "...\n", "'", '"', "\\", "#", "|\n", ">-\n", "? ", "\t", "\x00", "\ufeff", "%YAML 1.1\n"]

names = st.text(min_size=1, max_size=30).map(lambda s: s.replace("/", "_") + st_suffix(s))


def st_suffix(seed: str) -> str:
    return (".yaml", ".yml", ".json")[len(seed) % 3]


def check(name: str, data: bytes) -> None:
    try:
        load_files([SourceFile(name, data)])
    except KubesyncError as e:
        shown = printable(name)
        for problem in getattr(e, "problems", [str(e)]):
            assert problem.startswith(shown), f"a problem without its file name: {problem!r}"
            assert "\n" not in problem


@FUZZ
@given(names, st.binary(max_size=2000))
def test_random_bytes(name, data):
    check(name, data)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=80))
def test_yaml_token_soup(parts):
    check("soup.yaml", "".join(parts).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID)), st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6), names)
def test_mutated_valid_manifests(at, inserted, name):
    check(name, (VALID[:at] + "".join(inserted) + VALID[at:]).encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=40,
)


@FUZZ
@given(json_values, st.integers(min_value=0, max_value=150))
def test_structured_documents_as_yaml_and_json(value, depth):
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": value}
    for _ in range(depth):
        doc = {"k": [doc]}
    check("doc.json", json.dumps(doc).encode())
    check("doc.yaml", yaml.safe_dump(doc, default_flow_style=True, width=10**9).encode())
