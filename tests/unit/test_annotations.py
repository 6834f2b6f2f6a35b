"""What Argo CD's, Flux's, Helm's and kubesync's annotations mean: hooks and their phases, delete
policies, waves, honoured options, warnings for what kubesync does not do, errors for unknown values."""

from __future__ import annotations

import pytest

from kubesync import annotations as notes
from kubesync.annotations import Option


@pytest.mark.parametrize("given, phases, skipped", [
    ({"argocd.argoproj.io/hook": "PreSync"}, ("PreSync",), ""),
    ({"argocd.argoproj.io/hook": " PostSync , PreSync,PreSync"}, ("PreSync", "PostSync"), ""),  # run order, once each
    ({"kubesync.io/hook": "SyncFail", "argocd.argoproj.io/hook": "PreSync"}, ("SyncFail",), ""),  # kubesync's own wins
    ({"argocd.argoproj.io/hook": "Skip"}, (), "Skip: never applied"),
    ({"argocd.argoproj.io/hook": "PreSync,Skip"}, ("PreSync",), ""),  # Skip only counts alone (gitops-engine)
    ({"argocd.argoproj.io/hook": "PostDelete"}, (), "runs only when an Argo CD Application is deleted; kubesync never runs it"),
    ({"helm.sh/hook": "pre-install,pre-upgrade"}, ("PreSync",), ""),
    ({"helm.sh/hook": "post-upgrade, post-install"}, ("PostSync",), ""),
    ({"helm.sh/hook": "test"}, (), "a Helm hook kubesync never runs (only install and upgrade hooks run)"),
    ({"helm.sh/hook": "pre-install", "argocd.argoproj.io/hook": "Sync"}, ("Sync",), ""),  # Argo CD's wins over Helm's
])
def test_hooks_and_their_phases(given, phases, skipped):
    spec = notes.hook(given)
    assert spec is not None and spec.phases == phases and spec.skipped == skipped


@pytest.mark.parametrize("given", [{}, {"helm.sh/hook": "crd-install"}, {"helm.sh/hook": ""}, {"other": "PreSync"}])
def test_ordinary_objects_are_no_hooks(given):
    assert notes.hook(given) is None


def test_delete_policies_from_every_tool_default_to_before_hook_creation():
    assert notes.delete_policies({}) == ("BeforeHookCreation",)
    assert notes.delete_policies({"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}) == (
        "BeforeHookCreation", "HookSucceeded")
    assert notes.delete_policies({"argocd.argoproj.io/hook-delete-policy": "HookFailed",
                                  "helm.sh/hook-delete-policy": "hook-failed"}) == ("HookFailed",)


def test_waves_argo_first_then_helm_weight():
    assert notes.sync_wave({"argocd.argoproj.io/sync-wave": "-2", "helm.sh/hook-weight": "5"}) == -2
    assert notes.sync_wave({"helm.sh/hook-weight": "5"}) == 5  # gitops-engine reads it on any object
    assert notes.sync_wave({"kubesync.io/wave": "3"}) == 0  # kubesync's own wave is the kind's step, not Argo CD's
    assert notes.hook_wave({"kubesync.io/wave": "3"}) == 3  # ... but a hook's wave inside its phase
    assert notes.hook_wave({}) == 0


def test_honoured_options():
    assert notes.options({"argocd.argoproj.io/sync-options": "Prune=false, PruneLast=true,Replace=true,Validate=false"}) == {
        Option.NO_PRUNE, Option.PRUNE_LAST, Option.REPLACE, Option.NO_VALIDATE}
    assert notes.options({"argocd.argoproj.io/sync-options": "Prune=true,ServerSideApply=true"}) == frozenset()
    assert notes.options({"kustomize.toolkit.fluxcd.io/prune": "disabled", "kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent",
                          "kustomize.toolkit.fluxcd.io/force": "Enabled"}) == {Option.NO_PRUNE, Option.IF_NOT_PRESENT, Option.FORCE}
    assert notes.options({"argocd.argoproj.io/compare-options": "IgnoreExtraneous"}) == {Option.IGNORE_EXTRANEOUS}


def test_what_is_recognised_and_not_done_is_a_warning():
    assert notes.unhonoured({"argocd.argoproj.io/sync-options": "ServerSideApply=true,PrunePropagationPolicy=orphan"}) == [
        "argocd.argoproj.io/sync-options ServerSideApply=true: server-side apply is not supported yet; applied with "
        "kubesync's own three-way merge",
        "argocd.argoproj.io/sync-options PrunePropagationPolicy=orphan: an Application's option, ignored on an object (as in Argo CD)"]
    assert notes.unhonoured({"argocd.argoproj.io/hook": "PreSync,PostDelete"}) == [
        "argocd.argoproj.io/hook PostDelete: runs only when an Argo CD Application is deleted; kubesync never runs it"]
    assert notes.unhonoured({"kustomize.toolkit.fluxcd.io/reconcile": "disabled"})[0].startswith(
        "kustomize.toolkit.fluxcd.io/reconcile: disabled: not supported")
    assert notes.unhonoured({"argocd.argoproj.io/sync-options": "Prune=false"}) == []


@pytest.mark.parametrize("key, value, says", [
    ("argocd.argoproj.io/hook", "PreSnyc", "use a comma list of PreSync, Sync, PostSync, SyncFail, Skip"),
    ("argocd.argoproj.io/hook", "", "use a comma list of PreSync"),
    ("kubesync.io/hook-delete-policy", "OnSuccess", "use a comma list of BeforeHookCreation, HookSucceeded, HookFailed"),
    ("helm.sh/hook-delete-policy", "hook-succeded", "use a comma list of before-hook-creation, hook-succeeded, hook-failed"),
    ("helm.sh/hook", "pre-instal", "a comma list of Helm hooks"),
    ("argocd.argoproj.io/sync-wave", "first", "is not a wave: use an integer"),
    ("helm.sh/hook-weight", "1.5", "is not a wave"),
    ("kubesync.io/wave", "early", "is not a wave"),
    ("argocd.argoproj.io/sync-options", "Prune=false,Prune=never", "unknown: Prune=never"),
    ("argocd.argoproj.io/compare-options", "IgnoreExtra", "use IgnoreExtraneous"),
    ("kustomize.toolkit.fluxcd.io/prune", "Disabled", "use disabled or enabled"),
    ("kustomize.toolkit.fluxcd.io/ssa", "ifnotpresent", "use IfNotPresent or Ignore or Override or Merge"),
    ("kustomize.toolkit.fluxcd.io/force", "true", "use Enabled or Disabled"),
])
def test_an_unknown_value_of_a_known_annotation_is_a_problem(key, value, says):
    (problem,) = notes.problems({key: value})
    assert problem.startswith(f"metadata.annotations[{key!r}] {value!r}") and says in problem, problem


def test_known_values_are_no_problem():
    assert notes.problems({
        "argocd.argoproj.io/hook": "PreSync,PostDelete", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded,BeforeHookCreation",
        "helm.sh/hook": "pre-install,test", "helm.sh/hook-weight": "-5", "argocd.argoproj.io/sync-wave": " 3 ",
        "argocd.argoproj.io/sync-options": "Prune=false,ServerSideApply=true,CreateNamespace=true,Validate=true",
        "argocd.argoproj.io/compare-options": "IgnoreExtraneous", "kustomize.toolkit.fluxcd.io/ssa": "Merge",
        "kubesync.io/wave": "-1", "unrelated.example.com/x": "anything"}) == []
