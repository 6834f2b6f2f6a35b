"""Ordering real installs need (issue 32): a sync that installs an admission webhook configuration
(failurePolicy Fail, its Service with no pod behind it yet) and a custom resource that webhook intercepts
must not ask the webhook to admit its own resource. Knative Serving's install failed 7 of 8 first syncs
when both went in one wave; the webhook configuration now goes in a wave after everything else."""

from __future__ import annotations

from tests.support.cli import run

RUNS = 10


def source(group: str, name: str, namespace: str) -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}-webhook}}
spec:
  selector: {{app: {name}-webhook}}   # no pod: every call to the webhook fails
  ports: [{{port: 443, targetPort: 8443}}]
---
apiVersion: {group}/v1
kind: Gadget
metadata: {{name: first}}
spec: {{size: 3}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {{name: {name}}}
webhooks:
  - name: validate.{group}
    failurePolicy: Fail
    sideEffects: None
    admissionReviewVersions: [v1]
    clientConfig:
      service: {{namespace: {namespace}, name: {name}-webhook, path: /validate, port: 443}}
    rules:
      - {{apiGroups: [{group}], apiVersions: [v1], resources: [gadgets], operations: [CREATE, UPDATE]}}
"""


def test_a_webhook_and_a_resource_it_intercepts_apply_on_the_first_try_every_time(kubeconfig, cluster, namespace, tmp_path):
    suffix = namespace[-6:]
    for i in range(RUNS):
        group, name = f"r{i}-{suffix}.example.com", f"wh{i}-{suffix}"
        folder = tmp_path / name
        folder.mkdir()
        (folder / "install.yaml").write_text(source(group, name, namespace))
        try:
            applied = run("apply", str(folder), "--name", name, "-n", namespace, "--yes", kubeconfig=kubeconfig)
            assert applied.returncode == 0, f"run {i + 1} of {RUNS}: exit {applied.returncode}\n{applied.stdout}\n{applied.stderr}"
            assert cluster.get(f"/apis/{group}/v1/namespaces/{namespace}/gadgets/first")["spec"] == {"size": 3}
            webhook = cluster.get(f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}")
            assert webhook["webhooks"][0]["failurePolicy"] == "Fail"
            # the webhook is live and refuses every write of its kind: proof the order was what made run 1 pass
            refused = run("apply", str(folder), "--name", name, "-n", namespace, "--yes", kubeconfig=kubeconfig)
            assert refused.returncode == 0 and "No changes." in refused.stdout, refused.stderr
        finally:
            for path in (f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{name}",
                         f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}"):
                if cluster.get_or_none(path) is not None:
                    cluster.request("DELETE", path)
