"""`kubesync version`: the client's version, the server's, and the Kubernetes versions kubesync is tested on."""

from __future__ import annotations

import json

from kubesync import __version__
from kubesync.commands.common import pipeline, write_out

# The control planes the test suite runs against (tests/conftest.py, scripts/build-*).
TESTED_KUBERNETES = ("1.37", "1.20")


def run(args) -> int:
    doc: dict = {"client": {"version": __version__}, "testedKubernetes": list(TESTED_KUBERNETES)}
    if not args.client:
        info = pipeline(args).server_version()
        doc["server"] = {"gitVersion": info.get("gitVersion", ""), "platform": info.get("platform", "")}
    if args.output == "json":
        write_out(json.dumps(doc, indent=2, sort_keys=True))
    elif args.output == "yaml":
        import yaml

        write_out(yaml.safe_dump(doc, sort_keys=True))
    else:
        lines = [f"Client Version: kubesync {__version__}"]
        if "server" in doc:
            lines.append(f"Server Version: {doc['server']['gitVersion']}")
        lines.append(f"Tested on Kubernetes: {', '.join(TESTED_KUBERNETES)}")
        write_out("\n".join(lines))
    return 0
