"""manifests.py: YAML/JSON documents -> validated Manifests, every problem listed at once."""

from __future__ import annotations


import pytest

from kubesync.errors import ManifestError, SourceError
from kubesync.manifests import DNS1123_SUBDOMAIN_RULE, SourceFile, load_files, parse
from kubesync.model import ObjectRef, Origin


def problems_of(path: str, text: str) -> list[str]:
    with pytest.raises(ManifestError) as info:
        parse(path, text)
    return info.value.problems


def problems_of_files(*files: SourceFile) -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_files(files)
    return info.value.problems


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


# --- documents and lines ------------------------------------------------------------------------


def test_multi_document_yaml_gives_each_object_its_start_line():
    text = "# leading comment\n---\n" + CM.format(name="a") + "---\n\n" + CM.format(name="b")
    manifests = parse("app.yaml", text)
    assert [(m.ref.name, m.origin) for m in manifests] == [("a", Origin("app.yaml", 3)), ("b", Origin("app.yaml", 9))]
    assert manifests[0].ref == ObjectRef("", "v1", "ConfigMap", "", "a")
    assert manifests[0].obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}


def test_empty_and_comment_only_documents_are_skipped():
    text = "---\n---\n# only a comment\n---\n" + CM.format(name="a") + "---\n...\n"
    assert [m.ref.name for m in parse("a.yaml", text)] == ["a"]
    assert parse("empty.yaml", "") == []
    assert parse("comments.yaml", "# nothing here\n# at all\n") == []


def test_list_kind_is_expanded_with_the_line_of_each_item():
    text = """apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a}
- apiVersion: v1
  kind: Secret
  metadata: {name: b}
"""
    manifests = parse("list.yaml", text)
    assert [(m.ref.kind, m.ref.name, m.origin.line) for m in manifests] == [("ConfigMap", "a", 5), ("Secret", "b", 8)]


def test_typed_lists_and_nested_lists_are_expanded():
    text = """apiVersion: v1
kind: ConfigMapList
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
"""
    assert [(m.ref.name, m.origin.line) for m in parse("l.yaml", text)] == [("a", 4), ("b", 8)]


def test_an_empty_list_yields_nothing():
    assert parse("l.yaml", "apiVersion: v1\nkind: List\nitems: []\n") == []
    assert parse("l.yaml", "apiVersion: v1\nkind: List\nitems:\n") == []


def test_a_named_object_whose_kind_ends_in_list_is_not_expanded():
    text = "apiVersion: example.com/v1\nkind: AccessList\nmetadata: {name: allow}\nitems: [a, b]\n"
    [m] = parse("crd.yaml", text)
    assert (m.ref.kind, m.ref.name, m.obj["items"]) == ("AccessList", "allow", ["a", "b"])


def test_list_items_must_be_a_list():
    assert problems_of("l.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n") == [
        "l.yaml:1: List: items must be a list, not a mapping"
    ]


def test_json_files_are_parsed_with_the_line_of_each_object():
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}\n\n{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "b"}}\n'
    assert [(m.ref.name, m.origin.line) for m in parse("a.json", text)] == [("a", 1), ("b", 3)]


def test_json_list_items_take_the_line_of_the_list():
    text = '\n{"apiVersion": "v1", "kind": "List", "items": [\n  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}]}'
    assert [(m.ref.name, m.origin.line) for m in parse("l.json", text)] == [("a", 2)]


def test_dates_stay_strings_as_kubernetes_reads_them():
    [m] = parse("a.yaml", CM.format(name="a") + "data:\n  day: 2024-01-31\n  eq: =\n")
    assert m.obj["data"] == {"day": "2024-01-31", "eq": "="}


def test_yaml_11_booleans_and_numbers_follow_kubernetes():
    [m] = parse("a.yaml", CM.format(name="a") + "x:\n  o: yes\n  n: 010\n")
    assert m.obj["x"] == {"o": True, "n": 8}  # values as Kubernetes reads them; keys: see below


def test_rendered_files_keep_line_zero():
    [m] = load_files([SourceFile("overlays/prod/kustomization.yaml", CM.format(name="a").encode(), rendered=True)])
    assert m.origin == Origin("overlays/prod/kustomization.yaml", 0)
    assert str(m.origin) == "overlays/prod/kustomization.yaml"


def test_utf8_bom_is_accepted():
    [m] = load_files([SourceFile("bom.yaml", b"\xef\xbb\xbf" + CM.format(name="a").encode())])
    assert m.ref.name == "a"


# --- identity checks ----------------------------------------------------------------------------


def test_document_must_be_a_mapping():
    assert problems_of("a.yaml", "- a\n- b\n---\njust text\n---\n42\n") == [
        "a.yaml:1: a document must be a mapping with apiVersion, kind and metadata, not a list",
        "a.yaml:4: a document must be a mapping with apiVersion, kind and metadata, not a string",
        "a.yaml:6: a document must be a mapping with apiVersion, kind and metadata, not a number",
    ]


def test_missing_api_version_kind_and_metadata_are_named():
    text = "kind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\n"
    assert problems_of("a.yaml", text) == [
        "a.yaml:1: Deployment/web: apiVersion is missing; set it, e.g. apiVersion: apps/v1",
        "a.yaml:4: name x: kind is missing; set it, e.g. kind: Deployment",
        "a.yaml:7: ConfigMap: metadata is missing; set metadata.name",
    ]


def test_identity_fields_must_be_non_empty_strings():
    text = "apiVersion: 1\nkind: ''\nmetadata: {name: [a]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n"
    assert problems_of("a.yaml", text) == [
        "a.yaml:1: apiVersion must be a string, not a number",
        "a.yaml:1: kind is empty; set it, e.g. kind: Deployment",
        "a.yaml:1: metadata.name must be a string, not a list",
        "a.yaml:5: ConfigMap: metadata must be a mapping, not a list",
    ]


def test_missing_name_is_named():
    assert problems_of("a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: shop}\n") == [
        "a.yaml:1: ConfigMap: metadata.name is missing; set it, e.g. name: web"
    ]


def test_generate_name_is_refused_on_an_ordinary_object():
    text = "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-}\n"
    assert problems_of("job.yaml", text) == [
        "job.yaml:1: Job: metadata.generateName is only for hooks (a sync must know each object's name to update "
        "and prune it); set metadata.name, or make it a hook (argocd.argoproj.io/hook: PreSync, ...)"
    ]


def test_generate_name_is_a_hooks_own():
    text = ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n"
            "  annotations: {argocd.argoproj.io/hook: PreSync}\n")
    (m,) = parse("job.yaml", text)
    assert str(m.ref) == "batch/v1 Job migrate-<…>"
    bad = text.replace("migrate-", "Migrate_")
    assert problems_of("job.yaml", bad) == [
        "job.yaml:1: Job: metadata.generateName 'Migrate_' is not a valid name prefix: with the suffix each run adds "
        "it must be " + DNS1123_SUBDOMAIN_RULE]


@pytest.mark.parametrize(
    "kind, api_version, name",
    [
        ("ConfigMap", "v1", "web.config-1"),
        ("ConfigMap", "v1", "a" * 253),
        ("Namespace", "v1", "a" * 63),
        ("Service", "v1", "web-1"),
        ("ClusterRole", "rbac.authorization.k8s.io/v1", "system:aggregate-to-edit"),
        ("RoleBinding", "rbac.authorization.k8s.io/v1", "Admin:Bind"),
        ("CustomResourceDefinition", "apiextensions.k8s.io/v1", "widgets.example.com"),
    ],
)
def test_valid_names_pass(kind, api_version, name):
    [m] = parse("a.yaml", f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: '{name}'\n")
    assert m.ref.name == name


SUBDOMAIN = "a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
LABEL = "a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"


@pytest.mark.parametrize(
    "kind, api_version, name, rule",
    [
        ("ConfigMap", "v1", "Web", SUBDOMAIN),
        ("ConfigMap", "v1", "web_1", SUBDOMAIN),
        ("ConfigMap", "v1", "-web", SUBDOMAIN),
        ("ConfigMap", "v1", "a" * 254, SUBDOMAIN),
        ("Namespace", "v1", "a.b", LABEL),
        ("Namespace", "v1", "a" * 64, LABEL),
        (
            "Service",
            "v1",
            "1web",
            "a DNS-1035 label: at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
        ),
        ("ClusterRole", "rbac.authorization.k8s.io/v1", "a/b", "a path segment: not '.' or '..' and without '/' or '%'"),
    ],
)
def test_invalid_names_are_refused_with_the_rule(kind, api_version, name, rule):
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: '{name}'\n"
    group = api_version.rpartition("/")[0]
    ref = f"{api_version} {kind} {name}"
    assert group is not None
    assert problems_of("a.yaml", text) == [f"a.yaml:1: {ref}: metadata.name {name!r} is not a valid {kind} name: it must be {rule}"]


def test_namespace_must_be_a_dns_label():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: Shop.Prod}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: 3}\n"
    assert problems_of("a.yaml", text) == [
        f"a.yaml:1: v1 ConfigMap Shop.Prod/a: metadata.namespace 'Shop.Prod' is not a valid namespace name: it must be {LABEL}",
        "a.yaml:5: v1 ConfigMap 3/b: metadata.namespace must be a string, not a number",
    ]


def test_label_and_annotation_values_must_be_strings():
    text = CM.format(name="a") + "  labels: {version: 1.0, ok: 'x'}\n  annotations: [a]\n"
    assert problems_of("a.yaml", text) == [
        "a.yaml:1: v1 ConfigMap a: metadata.labels['version'] must be a string, not a number; quote the value in YAML",
        "a.yaml:1: v1 ConfigMap a: metadata.annotations must be a mapping, not a list",
    ]


def test_a_wave_annotation_must_be_an_integer_and_the_error_names_file_line_and_object():
    good = CM.format(name="a") + "  annotations: {kubesync.io/wave: '-2'}\n"
    assert [m.ref.name for m in parse("a.yaml", good)] == ["a"]
    text = "---\n" + CM.format(name="b") + "  annotations: {kubesync.io/wave: early}\n"
    assert problems_of("a.yaml", text) == [
        "a.yaml:2: v1 ConfigMap b: metadata.annotations['kubesync.io/wave'] 'early' is not a wave: "
        'use an integer such as "5" (lower waves apply first)',
    ]


# --- duplicates ---------------------------------------------------------------------------------


def test_the_same_object_twice_names_both_places():
    a = SourceFile("a.yaml", b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n")
    b = SourceFile("b/c.yaml", b"# x\napiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n")
    assert problems_of_files(a, b) == [
        "b/c.yaml:2: apps/v1beta1 Deployment shop/web: defined twice, first at a.yaml:1; keep only one definition"
    ]


def test_same_name_in_another_namespace_or_kind_is_another_object():
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: y}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: x}\n"
    )
    assert len(parse("a.yaml", text)) == 3


def test_duplicate_yaml_keys_are_refused_with_both_lines():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  replicas: 3\n"
    assert problems_of("d.yaml", text) == [
        "d.yaml:7: apps/v1 Deployment web: duplicate key 'replicas' (first at line 6); only the last one would count, remove the other"
    ]


def test_yaml_merge_keys_fill_in_without_counting_as_duplicates():
    text = CM.format(name="a") + "data:\n  <<: [{x: '1', y: '1'}, {y: '2', z: '2'}]\n  x: '3'\n"
    [m] = parse("m.yaml", text)
    assert m.obj["data"] == {"x": "3", "y": "1", "z": "2"}


def test_anchors_and_aliases_are_resolved():
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: &labels {app: web}\nspec:\n  selector: {matchLabels: *labels}\n"
    [m] = parse("a.yaml", text)
    assert m.obj["spec"]["selector"]["matchLabels"] == {"app": "web"}


def test_duplicate_json_keys_are_refused():
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1", "k": "2"}}'
    assert problems_of("a.json", text) == [
        "a.json:1: v1 ConfigMap a: duplicate key 'k'; only the last one would count, remove the other"
    ]


# --- syntax and encoding ------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_column():
    text = CM.format(name="a") + "data:\n  key: [unclosed\n  other: 1\n"
    assert problems_of("bad.yaml", text) == [
        "bad.yaml:7: invalid YAML at column 8: did not find expected ',' or ']' (while parsing a flow sequence at line 6)"
    ]


def test_yaml_indentation_error():
    assert problems_of("bad.yaml", "a: 1\n b: 2\n") == ["bad.yaml:2: invalid YAML at column 3: mapping values are not allowed in this context"]


def test_unsupported_yaml_tags_are_refused():
    text = CM.format(name="a") + "binaryData:\n  x: !!binary aGVsbG8=\n"
    assert problems_of("t.yaml", text) == [
        "t.yaml:6: invalid YAML at column 6: unsupported tag !!binary: Kubernetes objects hold only maps, lists, "
        "strings, numbers, booleans and null"
    ]
    # the tag is not repeated: an unquoted password starting with '!' is read as one
    assert problems_of("t.yaml", "a: !s3cretPass x\n") == [
        "t.yaml:1: invalid YAML at column 4: unknown YAML tag (a value starting with '!' must be quoted)"
    ]


def test_json_syntax_error_names_line_and_column():
    assert problems_of("a.json", '{\n  "apiVersion": "v1",\n  "kind": }') == ["a.json:3: invalid JSON at column 11: Expecting value"]


def test_binary_file_is_refused():
    assert problems_of_files(SourceFile("img.yaml", b"\x89PNG\r\n\x00\x00")) == [
        "img.yaml: binary file (it contains a NUL byte); only YAML and JSON text is read, remove it or add it to .kubesyncignore"
    ]


def test_non_utf8_file_is_refused_with_its_line():
    data = CM.format(name="a").encode() + b"data:\n  k: caf\xe9\n"
    assert problems_of_files(SourceFile("latin1.yaml", data)) == [
        "latin1.yaml:6: not valid UTF-8 (byte 0xE9); save the file as UTF-8 or add it to .kubesyncignore"
    ]


# --- all or nothing, and secrets ----------------------------------------------------------------


def test_every_problem_of_every_file_is_reported_at_once():
    files = [
        SourceFile("a.yaml", b"kind: ConfigMap\nmetadata: {name: a}\n"),
        SourceFile("b.yaml", b"a: [\n"),
        SourceFile("c.yaml", CM.format(name="ok").encode()),
        SourceFile("d.json", b"{"),
    ]
    with pytest.raises(ManifestError) as info:
        load_files(files, problems=["big.yaml: too large"])
    assert info.value.problems == [
        "big.yaml: too large",
        "a.yaml:1: ConfigMap/a: apiVersion is missing; set it, e.g. apiVersion: apps/v1",
        "b.yaml:2: invalid YAML at column 1: did not find expected node content (while parsing a flow node at line 2)",
        "d.json:1: invalid JSON at column 2: Expecting property name enclosed in double quotes",
    ]
    assert str(info.value).startswith("4 problems in the desired state; nothing was applied:\n  big.yaml: too large\n")
    assert isinstance(info.value, SourceError)


def test_secret_values_never_appear_in_messages():
    secret = "hunter2-TOPSECRET"
    text = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: Bad_Name\nstringData:\n  password: {secret}\n  password: {secret}\n"
        f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  token: {secret}: oops\n"
    )
    with pytest.raises(ManifestError) as info:
        parse("s.yaml", text)
    assert len(info.value.problems) == 3
    assert secret not in str(info.value)
    with pytest.raises(ManifestError) as info:
        parse("s.json", '{"kind": "Secret", "stringData": {"p": "%s", "p": "%s"}}' % (secret, secret))
    assert secret not in str(info.value)


def test_ten_thousand_objects_parse_with_exact_lines():
    """Speed is measured in bench/, never asserted here; this checks a large file's origins."""
    doc = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  namespace: shop\n  labels: {{app: web}}\n"
        "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
        "        ports: [{{containerPort: 80, protocol: TCP}}]\n"
    )
    text = "---\n".join(doc.format(i=i) for i in range(10000))
    manifests = load_files([SourceFile("big.yaml", text.encode())])
    assert len(manifests) == 10000
    assert manifests[-1].origin.line == 9999 * 15 + 1


def test_secret_data_that_is_not_base64_is_named_by_key_without_its_value():
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  ok: aGVsbG8=\n  password: hunter2-plain!\n"
    with pytest.raises(ManifestError) as e:
        load_files([SourceFile("s.yaml", text.encode())])
    assert str(e.value).endswith(
        "s.yaml:1: v1 Secret s: data['password'] is not valid base64 (value not shown); put plain text under stringData instead")
    assert "hunter2" not in str(e.value)


def test_secret_string_data_that_is_not_a_string_is_refused_with_file_and_line():
    """`pin: 1234` would be quoted silently into "1234": the create fails, an update plans "no change"."""
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  user: admin\n  pin: 1234\n  debug: true\n"
    )
    with pytest.raises(ManifestError) as e:
        load_files([SourceFile("s.yaml", text.encode())])
    message = str(e.value)
    assert "s.yaml:5: v1 Secret s: stringData['pin'] must be a string, not a number (value not shown); quote it in YAML" in message
    assert "s.yaml:5: v1 Secret s: stringData['debug'] must be a string, not a boolean" in message
    assert "1234" not in message.replace("stringData['pin']", "")


def test_secret_string_data_must_be_a_mapping():
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: [a, b]\n"
    with pytest.raises(ManifestError) as e:
        load_files([SourceFile("s.yaml", text.encode())])
    assert "s.yaml:1: v1 Secret s: stringData must be a mapping, not a list" in str(e.value)


@pytest.mark.parametrize(
    "key, kind",
    [("on", "a boolean"), ("no", "a boolean"), ("true", "a boolean"), ("~", "null"), ("1.5", "a number")],
)
def test_a_key_yaml_reads_as_no_string_is_refused_with_file_and_line(key, kind):
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  b: '2'\n  {key}: '1'\n"
    with pytest.raises(ManifestError) as info:
        parse("cm.yaml", text)
    assert f"cm.yaml:7: invalid YAML at column 3: the key '{key}' is read as {kind} by YAML, not as a string; " in str(info.value)
    assert f"quote it ('{key}':) to keep it as written" in str(info.value)


def test_an_integer_key_becomes_its_decimal_string_like_kubectl():
    (m,) = parse("tcp.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tcp\ndata:\n  9000: default/web:8080\n")
    assert m.obj["data"] == {"9000": "default/web:8080"}


def test_a_whole_source_is_bounded_by_nodes_derived_from_the_memory_limit():
    """Many documents each under the per-document bound still add up (issue 31: 26 MB of plain valid YAML,
    13M nodes, peaked at 574 MB in a daemon whose pod has 512Mi)."""
    from kubesync.documents import ParseLimits
    from kubesync.errors import ManifestError
    from kubesync.manifests import SourceFile, load_files
    from kubesync.memory import total_nodes_for

    assert total_nodes_for(512 * 2**20) == 1_000_000  # the shipped pod: the floor (one document's own bound); 13M refused
    assert total_nodes_for(4 * 2**30) == 4 * 2**30 // 4 // 256  # a quarter of the limit at 256 bytes a node
    assert total_nodes_for(None) == 20_000_000
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\ndata: {%s}\n"
    files = [SourceFile(f"f{i}.yaml", (doc % (i, ", ".join(f"k{j}: v" for j in range(400)))).encode()) for i in range(30)]
    assert len(load_files(files)) == 30  # the default budget holds them
    with pytest.raises(ManifestError) as e:
        load_files(files, limits=ParseLimits(max_total_nodes=10_000))
    assert "f12.yaml:1: the source expands to more than 10000 nodes in all" in str(e.value)
