"""kubesync: a declarative, GitOps-style Kubernetes sync engine."""

__version__ = "0.1.0"
