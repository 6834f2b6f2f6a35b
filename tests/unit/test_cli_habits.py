"""kubectl and terraform habits: -f, -l, bare --dry-run, shell completion, version, safe sync names."""

from __future__ import annotations

import subprocess

import pytest

from kubesync.cli import _bare_dry_run, build_parser
from kubesync.commands.common import source_spec, sync_settings
from kubesync.completion import bash, fish, zsh
from kubesync.errors import PlanRefused, UsageError
from kubesync.plan import PlanSettings, check_prune_source, source_after
from kubesync.selector import matches, parse
from tests.support import cli as support_cli


def parsed(*argv):
    return build_parser().parse_args(_bare_dry_run(list(argv)))


def test_filename_is_another_way_to_give_the_source():
    assert source_spec(parsed("plan", "-f", "dir")).path == "dir"
    assert source_spec(parsed("plan", "--filename=dir")).path == "dir"
    with pytest.raises(UsageError, match="give the source once"):
        source_spec(parsed("plan", "a", "-f", "b"))


@pytest.mark.parametrize("argv, dry_run, source", [
    (["apply", "--dry-run", "dir"], "client", "dir"),
    (["apply", "dir", "--dry-run"], "client", "dir"),
    (["apply", "--dry-run", "server", "dir"], "server", "dir"),
    (["apply", "--dry-run=server", "dir"], "server", "dir"),
    (["apply", "dir"], "none", "dir"),
])
def test_bare_dry_run_means_client_and_keeps_the_path(argv, dry_run, source):
    args = parsed(*argv)
    assert (args.dry_run, args.source) == (dry_run, source)


def test_prune_needs_an_explicit_name(tmp_path):
    with pytest.raises(UsageError, match=r"needs the sync's name: pass --name SYNC"):
        sync_settings(parsed("apply", str(tmp_path), "--prune"))
    spec = sync_settings(parsed("apply", str(tmp_path), "--prune", "--name", "shop"))
    assert spec.name == "shop" and spec.planning.prune and spec.planning.source == str(tmp_path)
    spec = sync_settings(parsed("apply", str(tmp_path)))  # no prune: the folder's name still serves
    assert spec.name == spec.source.default_name() and spec.name


def test_explicit_namespace_is_strict(tmp_path):
    assert sync_settings(parsed("plan", str(tmp_path), "-n", "shop")).strict_namespace is True
    assert sync_settings(parsed("plan", str(tmp_path))).strict_namespace is False


def test_prune_from_another_source_is_refused_naming_both():
    s = PlanSettings(sync="app", prune=True, source="/repo-b/manifests")
    with pytest.raises(PlanRefused, match="applied from /repo-a/manifests, not from this source \\(/repo-b/manifests\\)"):
        check_prune_source("/repo-a/manifests", s)
    with pytest.raises(PlanRefused, match="pass --adopt-source"):  # --force lifts the max-prune guard, nothing else
        check_prune_source("/repo-a/manifests", PlanSettings(sync="app", prune=True, force=True, source="/repo-b/manifests"))
    check_prune_source("/repo-a/manifests", PlanSettings(sync="app", prune=True, adopt_source=True, source="/repo-b/manifests"))
    check_prune_source("", s)  # never applied, or applied before sources were recorded
    check_prune_source("/repo-b/manifests", s)
    # the absolute path kubesync recorded before is the same source as the identity computed now
    check_prune_source("/work/ci/manifests", PlanSettings(sync="app", prune=True, source="git:example.com/org/repo//manifests",
                                                          source_aliases=("/work/ci/manifests",)))


def test_the_inventory_keeps_its_first_source_until_a_prune_that_adopts_the_sync():
    assert source_after("", PlanSettings(sync="a", source="/b")) == "/b"
    assert source_after("/a", PlanSettings(sync="a", source="/b")) == "/a"
    assert source_after("/a", PlanSettings(sync="a", source="/b", prune=True)) == "/a"
    assert source_after("/a", PlanSettings(sync="a", source="/b", prune=True, force=True)) == "/a"
    assert source_after("/a", PlanSettings(sync="a", source="/b", prune=True, adopt_source=True)) == "/b"
    assert source_after("/b-old", PlanSettings(sync="a", source="/b", source_aliases=("/b-old",))) == "/b"  # migrated


@pytest.mark.parametrize("selector, labels, expected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app in (web, db),tier", {"app": "db", "tier": "x"}, True),
    ("app notin (web)", {"app": "web"}, False),
    ("!legacy", {"legacy": "1"}, False),
    ("example.com/team=a", {"example.com/team": "a"}, True),
])
def test_selector(selector, labels, expected):
    assert matches(parse(selector), {"metadata": {"labels": labels}}) is expected


@pytest.mark.parametrize("bad", ["app=", "=web", "app=web,", "a b"])
def test_bad_selector_is_a_usage_error(bad):
    if bad == "app=":  # an empty value is valid in Kubernetes
        assert matches(parse(bad), {"metadata": {"labels": {"app": ""}}})
        return
    with pytest.raises(UsageError, match="-l/--selector"):
        parse(bad)


def test_bash_completion_lists_commands_flags_and_choices():
    script = bash(build_parser())
    for word in ("plan diff apply status list compare daemon cluster version options completion", "--kubeconfig", "--context",
                 "--selector", "--filename", "--validate"):
        assert word in script
    assert 'plan:-o|plan:--output) COMPREPLY=($(compgen -W "text json yaml markdown"' in script
    assert script.rstrip().endswith("complete -o default -F _kubesync_complete kubesync")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_bash_completion_completes_in_a_shell():
    script = bash(build_parser())
    probe = script + '\nCOMP_WORDS=(kubesync --context x plan dir -o ""); COMP_CWORD=6; _kubesync_complete; echo "${COMPREPLY[*]}"\n'
    probe += 'COMP_WORDS=(kubesync ap); COMP_CWORD=1; _kubesync_complete; echo "${COMPREPLY[*]}"\n'
    out = subprocess.run(["bash"], input=probe, text=True, capture_output=True).stdout.splitlines()
    assert out == ["text json yaml markdown", "apply"]


def test_zsh_and_fish_completion():
    z = zsh(build_parser())
    assert z.startswith("#compdef kubesync\n") and "bashcompinit" in z and "_kubesync_complete" in z
    f = fish(build_parser())
    assert "complete -c kubesync -n 'not __fish_seen_subcommand_from plan diff apply" in f
    assert "complete -c kubesync -n '__fish_seen_subcommand_from plan' -s o -l output -r -a 'text json yaml markdown'" in f
    assert "complete -c kubesync -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'" in f


def test_completion_and_client_version_commands():
    run = support_cli.run
    out = run("completion", "fish")
    assert out.returncode == 0 and out.stdout.startswith("# fish completion for kubesync")
    out = run("--color=never", "version", "--client")
    assert out.returncode == 0 and "Client Version: kubesync " in out.stdout and "Tested on Kubernetes: 1.37, 1.20" in out.stdout


def test_a_saved_plan_names_its_cluster_and_is_refused_on_another():
    from kubesync import planfile
    from kubesync.model import Plan

    a = planfile.ClusterIdentity("https://10.0.0.1:6443", "uid-a")
    saved = planfile.from_dict(planfile.to_dict(planfile.SavedPlan(Plan("s", "src", "r", ()), None, "ns", a)))
    assert saved.cluster == a
    assert planfile.wrong_cluster(saved, planfile.ClusterIdentity("https://a.example:6443", "uid-a")) is None  # same uid
    why = planfile.wrong_cluster(saved, planfile.ClusterIdentity("https://10.0.0.2:6443", "uid-b"))
    assert why.startswith("the saved plan was made against cluster https://10.0.0.1:6443 (kube-system uid uid-a), but the "
                          "current context points at cluster https://10.0.0.2:6443 (kube-system uid uid-b)")
    assert planfile.wrong_cluster(saved, planfile.ClusterIdentity("https://10.0.0.2:6443")) is not None  # uid unknown: URL
    old = planfile.from_dict({k: v for k, v in planfile.to_dict(saved).items() if k != "cluster"})
    assert old.cluster is None and planfile.wrong_cluster(old, a) is None
