"""One sync under test: a folder of YAML planned and applied through the facade, as `kubesync apply` does.

Built from the one settings model (settings.merge), so tests plan with exactly the settings the CLI
would build from the same flags.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from kubesync.apply import ApplyReport, ApplySettings
from kubesync.cluster.api import Client
from kubesync.settings import Flags, SyncConfig, merge
from kubesync.sources import SourceSpec, load
from kubesync.sync import Pipeline, Planned


class SyncHarness:
    def __init__(self, cluster, folder: str | Path, name: str, namespace: str, **plan_opts):
        """`cluster`: the raw connection (tests' `cluster` fixture) or a Client (a scoped view, say);
        `plan_opts`: SyncConfig fields (prune, adopt, selector, ignore...) over what the flags give."""
        self.client = cluster if isinstance(cluster, Client) else Client(cluster)
        self.folder = Path(folder)
        settings = merge(Flags(name=name, source=SourceSpec(path=str(self.folder)), namespace=namespace))
        self.base = replace(settings, inventory_namespace=namespace)
        self.spec = self._spec(self.base, **plan_opts)
        self.pipeline = Pipeline(self.client)

    @staticmethod
    def _spec(spec: SyncConfig, **plan_opts) -> SyncConfig:
        return replace(spec, **plan_opts) if plan_opts else spec

    def plan(self, **plan_opts) -> Planned:
        """A fresh plan (fresh discovery: CRDs come and go); `plan_opts`, when given, are this plan's
        settings over the defaults (not over the harness's own options)."""
        self.pipeline = Pipeline(self.client)
        spec = self._spec(self.base, **plan_opts) if plan_opts else self.spec
        return self.pipeline.plan(load(SourceSpec(path=str(self.folder))), spec)

    def apply(self, planned: Planned | None = None, *, dry_run: bool = False, **plan_opts) -> tuple[Planned, ApplyReport]:
        planned = planned or self.plan(**plan_opts)
        return planned, self.pipeline.apply(planned, ApplySettings(dry_run=dry_run))

    def apply_cleanly(self, planned: Planned | None = None) -> ApplyReport:
        """Apply and assert nothing failed or was left unstarted (subclasses may make this their `apply`)."""
        _, report = SyncHarness.apply(self, planned)
        failures = [o.message for o in report.failures]
        assert not failures and not report.not_started, "apply failed:\n" + "\n".join(failures)
        return report
