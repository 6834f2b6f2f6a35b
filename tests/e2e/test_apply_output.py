"""Apply output that scales (issue 32): the plan's summary, then one line per object as it is done, as
kubectl prints; the whole plan with every diff only with --diff (Argo CD's install used to print 33,618
lines)."""

from __future__ import annotations

from tests.support.cli import run

N = 1000


def test_apply_prints_a_summary_and_one_line_per_object(kubeconfig, namespace, tmp_path):
    src = tmp_path / "app"
    src.mkdir()
    (src / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    (src / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: v}\n")
    out = run("apply", str(src), "--name", f"out-{namespace[-6:]}", "-n", namespace, "--yes", kubeconfig=kubeconfig,
              check_code=0).stdout
    lines = out.splitlines()
    assert len(lines) == 4, out
    assert lines[0] == "Plan: 2 to create, 0 to update, 0 to scale, 0 to delete (0 unchanged)."
    assert sorted(lines[1:3]) == [f"+ created   v1 ConfigMap {namespace}/{n}" for n in "ab"]  # one wave: either order
    assert lines[3] == "Apply complete: 2 created, 0 patched, 0 scaled, 0 deleted."
    (src / "b.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: changed}\n")
    diffed = run("apply", str(src), "--name", f"out-{namespace[-6:]}", "-n", namespace, "--yes", "--diff",
                 kubeconfig=kubeconfig, check_code=0).stdout
    assert "-  k: v\n+  k: changed" in diffed and f"~ patched   v1 ConfigMap {namespace}/b" in diffed


def test_a_thousand_objects_print_about_a_thousand_lines(kubeconfig, namespace, tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    (src / "all.yaml").write_text("".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:04d}}}\ndata: {{index: '{i}'}}\n" for i in range(N)))
    out = run("apply", str(src), "--name", f"many-{namespace[-6:]}", "-n", namespace, "--yes", kubeconfig=kubeconfig,
              check_code=0, timeout=600).stdout
    lines = out.splitlines()
    assert len(lines) <= N + 100, f"{len(lines)} lines for {N} objects"
    assert sum(line.startswith("+ created ") for line in lines) == N
    assert lines[-1] == f"Apply complete: {N} created, 0 patched, 0 scaled, 0 deleted."
