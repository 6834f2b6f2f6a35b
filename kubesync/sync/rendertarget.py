"""What a Helm chart renders for, from the cluster: its version and API versions (Helm's
`.Capabilities`), and a chart repository's credentials from a Secret (`helm: {secret: NS/NAME}`).

The sources layer never talks to the cluster: the facade builds a `Target` here whose `ask` runs
these look-ups only when a chart actually renders (a plain-YAML sync sends nothing more), once per
target. Credentials are remembered by the process-wide redactor at once, so no message can show them.
"""

from __future__ import annotations

import base64
import binascii
import functools

from kubesync import errors
from kubesync.cluster import API
from kubesync.model import SECRETS
from kubesync.secrets import remember
from kubesync.sources.spec import Credentials, SourceSpec, Target


def render_target(pipeline, source: SourceSpec, release: str, namespace: str) -> Target:
    """The sync's release (and namespace, when given) now; the cluster's answers (its default namespace,
    versions, the chart's Secret) only when a chart asks: a broken source fails before the kubeconfig is read."""

    @functools.cache
    def ask() -> Target:
        cluster = pipeline.cluster
        kube_version, api_versions = pipeline.discovery.capabilities()
        secret = source.helm.secret if source.helm else None
        creds = Credentials(*secret_credentials(cluster, secret)) if secret else None
        return Target(release, namespace or getattr(cluster, "namespace", "") or "default", kube_version, api_versions, creds)

    return Target(release=release, namespace=namespace, ask=ask)


def secret_credentials(cluster: API, ref: str) -> tuple[str, str]:
    """(username, password) from the `username` and `password` keys of Secret NAMESPACE/NAME."""
    namespace, _, name = ref.partition("/")
    secret = cluster.get(SECRETS, namespace, name)
    if secret is None:
        raise errors.SourceError(f"chart credentials: Secret {ref} does not exist")
    remember([secret])
    data = secret.get("data") or {}
    try:
        values = {k: base64.b64decode(data.get(k) or "").decode("utf-8") for k in ("username", "password")}
    except (binascii.Error, UnicodeDecodeError):
        raise errors.SourceError(f"chart credentials: Secret {ref}: username or password is not base64 UTF-8") from None
    if not values["username"] or not values["password"]:
        raise errors.SourceError(f"chart credentials: Secret {ref} needs both `username` and `password` keys")
    return values["username"], values["password"]
