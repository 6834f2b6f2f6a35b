"""Argument parsing and wiring only: each subcommand lives in kubesync/commands/<name>.py as run(args) -> int.

Exit codes: 0 success / no changes, 1 error, 2 changes present (plan/diff/compare with --exit-code).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from kubesync import __version__
from kubesync.commands.sourceflags import add_render_flags
from kubesync.errors import KubesyncError

EPILOG_EXIT = """exit codes:
  0  success (with --exit-code: no changes)
  1  error
  2  changes present (only with --exit-code / --detailed-exitcode)"""

SOURCE_HELP = "a folder of YAML/JSON manifests (or a kustomization folder)"


# Global flags: the same table is added to the top-level parser and to every subcommand, so they
# work before or after it (`kubesync --context prod plan dir/` and `kubesync plan dir/ --context prod`).
# Subcommands add them with default=SUPPRESS: only a flag given there overrides one given before.
# To add a global flag, add a row.
GLOBAL_FLAGS: list[tuple[tuple[str, ...], dict]] = [
    (("--kubeconfig",), dict(metavar="FILE", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config, then in-cluster)")),
    (("--context",), dict(metavar="NAME", help="kubeconfig context to use")),
    (("--as",), dict(dest="as_user", metavar="USER", help="impersonate this user (like kubectl --as)")),
    (("--as-group",), dict(dest="as_groups", action="append", metavar="GROUP", help="impersonate this group (repeatable; needs --as)")),
    (("--as-uid",), dict(dest="as_uid", metavar="UID", help="impersonate this UID (needs --as)")),
    (("--request-timeout",), dict(default="30s", metavar="DURATION", help="give up on one API request after this long; 0: never (default 30s)")),
    (("--kube-api-qps",), dict(default=None, metavar="QPS", help="API requests a second once the burst is spent (client-side; "
                                                                 "retries and watch starts count); 0: no limit (default: 100 for "
                                                                 "the daemon, none for one-shot commands)")),
    (("--kube-api-burst",), dict(default=None, metavar="N", help="API requests sent at once before --kube-api-qps paces them (default 300)")),
    (("--color",), dict(choices=("auto", "always", "never"), default="auto",
                        help="colour: auto (on a terminal, unless NO_COLOR is set), always or never")),
    (("--no-color",), dict(dest="color", action="store_const", const="never", help="same as --color=never")),
    (("--log-format",), dict(choices=("text", "json"), default="text", help="log line format (default: text)")),
    (("--debug",), dict(action="store_true", default=False, help="debug logs and full tracebacks on errors")),
]


GLOBAL_NOTE = "global flags (--kubeconfig, --context, --as, --request-timeout, ...) go before or after the command: `kubesync options` lists them"


def _add_common(p: argparse.ArgumentParser, top: bool = False) -> None:
    """The global flags; a subcommand accepts them all but lists them once, in `kubesync options` (as kubectl)."""
    g = p.add_argument_group("global flags (before or after the command)")
    for flags, kwargs in GLOBAL_FLAGS:
        kwargs = dict(kwargs)
        if not top or kwargs.get("action") == "store_const":
            kwargs["default"] = argparse.SUPPRESS
        if not top:
            kwargs["help"] = argparse.SUPPRESS
        g.add_argument(*flags, **kwargs)


def global_flags_help() -> str:
    """What `kubesync options` prints."""
    p = argparse.ArgumentParser(prog="kubesync", usage=argparse.SUPPRESS, add_help=False,
                                description="The following flags work with every command, before or after it:")
    _add_common(p, top=True)
    return p.format_help()


def _add_source(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("source (a PATH, or --repo with --ref/--path)")
    g.add_argument("source", nargs="?", metavar="PATH", help=SOURCE_HELP)
    g.add_argument("-f", "--filename", metavar="PATH", help="the source folder or file, as with kubectl (same as PATH)")
    g.add_argument("--repo", metavar="URL_OR_PATH", help="git repository: a local path or an https/ssh/file URL")
    g.add_argument("--ref", metavar="REF", help="branch, tag or commit of --repo (default: HEAD)")
    g.add_argument("--path", dest="subpath", metavar="SUBDIR", help="sub-folder inside the source")
    p.set_defaults(_source_required=required)
    add_render_flags(p)


# Sync flags: each declared once, with the commands that take it (and, where a command means something
# else by it, that command's own help). To add a planning flag: a row here, a field of settings.Flags
# and settings.SyncConfig, and its line in commands/common.flags().
RUNS = ("plan", "diff", "apply", "status", "daemon")
SYNC_FLAGS: list[tuple[tuple[str, ...], dict, tuple[str, ...], dict[str, str]]] = [
    (("--name",), dict(metavar="SYNC", help="sync name: names the inventory and the owner label (default: the source "
                                              "folder's name; a run that may prune needs it given, here or in kubesync.yaml)"), RUNS, {}),
    (("-n", "--namespace"), dict(metavar="NS", help="namespace for namespaced objects that name none (default: the kubeconfig "
                                                   "context's namespace, else default); a namespaced object naming another "
                                                   "namespace is an error"), RUNS,
     {"daemon": "namespace for namespaced objects of SOURCE that name none (default: the context's, else default)"}),
    (("-l", "--selector"), dict(metavar="SELECTOR", help="only desired objects whose labels match (key=value, key!=value, key, "
                                                         "!key, key in (a,b), comma-separated); with --prune, only owned "
                                                         "objects it selects are pruned"), RUNS, {}),
    (("--config",), dict(metavar="FILE", help="kubesync.yaml holding the ignore rules and prune policy of --name"), RUNS,
     {"daemon": "kubesync.yaml: the syncs to keep converged (every one, or only --name), alerts and the receiver"}),
    (("--prune",), dict(action="store_true", help="delete owned objects that are gone from the source"), ("plan", "diff", "apply", "daemon"),
     {"plan": "plan deletions of owned objects gone from the source (without it they are listed as 'would be pruned')",
      "diff": "include objects that would be pruned"}),
    (("--force",), dict(action="store_true", help="allow pruning more than --max-prune of the owned objects"), ("apply",), {}),
    (("--max-prune",), dict(type=float, default=None, metavar="SHARE", help="largest share of owned objects one run may "
                                                                            "delete (default 0.5)"), ("apply", "daemon"), {}),
    (("--allow-empty",), dict(action="store_true", help="accept a source without objects, and with --prune delete "
                                                        "everything the sync owns (otherwise an error: nothing applied or pruned)"),
     ("plan", "apply", "daemon"), {}),
    (("--adopt",), dict(action="store_true", help="take over existing objects not managed by any tool"), ("apply",), {}),
    (("--adopt-source",), dict(action="store_true", help="this source takes over a sync another source applied, and may "
                                                         "prune for it (nothing else)"), ("plan", "apply"), {}),
    (("--self-heal",), dict(action="store_true", help="revert out-of-band changes to managed objects"), ("daemon",), {}),
    (("--decryption-key-file",), dict(dest="decryption_key_files", action="append", metavar="FILE",
                                      help="age key file that opens SOPS-encrypted Secrets (repeatable; also SOPS_AGE_KEY_FILE, "
                                           "SOPS_AGE_KEY and kubesync.yaml's decryption); plan and diff run without one, "
                                           "leaving encrypted Secrets as they are"), ("plan", "diff", "apply", "daemon"),
     {"apply": "age key file that opens SOPS-encrypted Secrets (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY and "
               "kubesync.yaml's decryption); with --plan, re-opens the saved plan's encrypted Secrets"}),
]


def _add_sync(p: argparse.ArgumentParser, command: str) -> None:
    g = p.add_argument_group("sync")
    for flags, kwargs, commands, own in SYNC_FLAGS:
        if command in commands:
            g.add_argument(*flags, **{**kwargs, **({"help": own[command]} if command in own else {})})


def _add_plan_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", choices=("text", "json", "yaml", "markdown"), default="text", help="output format (default: text)")
    p.add_argument("--exit-code", "--detailed-exitcode", dest="exit_code", action="store_true", help="exit 2 when there are changes, 0 when none")
    p.add_argument("--fail-on", metavar="RISKS", help="comma-separated risk flags that make the run exit 1: delete,namespace-delete,scale-to-zero,immutable,rbac,image,unschedulable")


def _add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--validate", choices=("strict", "warn", "none", "server"), default=None, metavar="strict|warn|none",
                   help="as kubectl's: strict (default; `server` is the same): a server-side dry run of every create and "
                   "update, and every write, with strict field validation: an unknown or duplicate field fails the plan "
                   "(servers before 1.25: checked against their schema); warn: the same, unknown fields are warnings and "
                   "are dropped; none: no dry run, no field check")


def _command_plan(sub, fmt) -> None:
    p = sub.add_parser("plan", help="show what a sync would create, update, scale, replace and delete", epilog=EPILOG_EXIT, formatter_class=fmt)
    _add_source(p)
    _add_sync(p, "plan")
    _add_plan_output(p)
    p.add_argument("--out", metavar="PLAN.json", help="save the plan to apply later with `apply --plan`")
    p.add_argument("--sign-key", metavar="FILE", help="with --out: sign the saved plan (HMAC-SHA256) with this key, for "
                                                      "pipelines that move plans between machines")
    _add_validate(p)
    _add_common(p)


def _command_diff(sub, fmt) -> None:
    p = sub.add_parser("diff", help="coloured unified diff of live objects against the source", epilog=EPILOG_EXIT, formatter_class=fmt)
    _add_source(p)
    _add_sync(p, "diff")
    p.add_argument("--exit-code", "--detailed-exitcode", dest="exit_code", action="store_true", help="exit 2 when there are changes")
    _add_validate(p)
    _add_common(p)


def _command_apply(sub, fmt) -> None:
    p = sub.add_parser("apply", help="apply a source (or a saved plan) to the cluster", formatter_class=fmt)
    _add_source(p, required=False)
    _add_sync(p, "apply")
    p.add_argument("--plan", dest="plan_file", metavar="PLAN.json", help="apply exactly this saved plan (refused when stale)")
    p.add_argument("--replan", action="store_true", help="with --plan: plan again instead of refusing a stale plan")
    p.add_argument("--sign-key", metavar="FILE", help="with --plan: refuse the plan unless signed with this key")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation before deleting or replacing")
    p.add_argument("--dry-run", choices=("none", "client", "server"), default="none", nargs="?", const="client",
                   help="client (also a bare --dry-run, as in kubectl): plan only; server: send every write with dryRun=All")
    _add_validate(p)
    p.add_argument("--cascade", choices=("background", "foreground", "orphan"), default="background",
                   help="how pruned objects' dependents are deleted (default background, like kubectl)")
    p.add_argument("--wait", action="store_true", help="wait until every applied object is healthy")
    p.add_argument("--timeout", default="5m", metavar="DURATION", help="with --wait: give up after this long (default 5m)")
    p.add_argument("--concurrency", type=int, default=None, metavar="N", help="writes in flight at once within a wave (default 32)")
    p.add_argument("--hook-timeout", default="10m", metavar="DURATION",
                   help="how long each hook phase (PreSync, Sync, PostSync, SyncFail) may take (default 10m)")
    p.add_argument("--force-hooks", action="store_true", help="run the hooks even when the plan has nothing to apply")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text",
                   help="json: print only the result, object by object (schema kubesync.io/apply/v1), for CI")
    p.add_argument("--diff", action="store_true", help="print the whole plan with every diff before applying (by default: "
                                                       "its summary, then one line per object as it is done)")
    _add_common(p)


def _command_status(sub, fmt) -> None:
    p = sub.add_parser("status", help="health of every object a sync owns; with its source, sync state too", formatter_class=fmt)
    _add_source(p, required=False)
    _add_sync(p, "status")
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")
    _add_common(p)


def _command_list(sub, fmt) -> None:
    p = sub.add_parser("list", help="every sync on the cluster: source, revision, last apply, objects, health", formatter_class=fmt)
    p.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    _add_common(p)


def _command_compare(sub, fmt) -> None:
    p = sub.add_parser("compare", help="diff the desired state of two git refs (no cluster needed)", epilog=EPILOG_EXIT, formatter_class=fmt)
    p.add_argument("--repo", required=True, metavar="URL_OR_PATH", help="git repository")
    p.add_argument("--base", required=True, metavar="REF", help="the ref merged into (e.g. main)")
    p.add_argument("--head", required=True, metavar="REF", help="the ref under review (e.g. feature)")
    p.add_argument("--path", dest="subpath", metavar="SUBDIR", help="sub-folder inside the repository")
    p.add_argument("-n", "--namespace", metavar="NS", help="namespace for objects that name none (default: default)")
    p.add_argument("--config", metavar="FILE", help="kubesync.yaml: compare every sync of it that reads --repo, each with "
                                                   "its own path, namespace and prune policy, in one report")
    p.add_argument("--decryption-key-file", dest="decryption_key_files", action="append", metavar="FILE",
                   help="age key file that opens SOPS-encrypted Secrets, for value-level (masked) diffs; without a key an "
                        "encrypted Secret is compared by its ciphertext: unchanged, or changed (encrypted)")
    p.add_argument("--name", metavar="SYNC", help="the sync's name: Helm's release name unless --release (default: the folder's name)")
    p.add_argument("--capabilities-from", metavar="PLAN.json", help="render charts for the Kubernetes version and API versions "
                   "a saved plan (plan --out) was made against")
    add_render_flags(p)
    _add_plan_output(p)
    _add_common(p)


def _command_daemon(sub, fmt) -> None:
    p = sub.add_parser("daemon", help="keep one or more syncs converged (watch, poll, self-heal)", formatter_class=fmt)
    _add_source(p, required=False)
    _add_sync(p, "daemon")
    p.add_argument("--interval", default="30s", metavar="DURATION", help="git poll and full resync interval (default 30s)")
    p.add_argument("--listen", default="127.0.0.1:9090", metavar="HOST:PORT", help="address of /healthz, /readyz, /metrics, /webhook/<sync> (IPv6: [::1]:9090)")
    p.add_argument("--leader-elect", action="store_true", help="elect one writer among replicas through a Lease")
    p.add_argument("--probe-listen", default="", metavar="HOST:PORT", help="a listener of its own for /healthz and /readyz (the kubelet's probes): no client of --listen can delay them")
    p.add_argument("--lease-namespace", metavar="NS", help="namespace of the leader (or shard) Leases (default: the daemon's own: $POD_NAMESPACE, its service account's, else kubesync-system)")
    p.add_argument("--lease-name", metavar="NAME", help="name of the leader Lease (default kubesync-leader), or with --shards the prefix of the shard Leases (default kubesync-shard)")
    p.add_argument("--shards", type=int, default=0, metavar="N", help="split the syncs among replicas in N shards, one Lease each (0: off; not with --leader-elect)")
    p.add_argument("--lease-duration", default="15s", metavar="DURATION", help="how long a dead leader's Lease blocks a follower (default 15s)")
    p.add_argument("--lease-max-duration", metavar="DURATION", help="the longest leaseDurationSeconds believed in a Lease; more is a conflict (default: 4 x --lease-duration, at least 60s)")
    p.add_argument("--lease-holders", metavar="REGEX", help="holder identities believed to be replicas (default: kubesync's generated <host>-<pid>-<hex6>, and --identity)")
    p.add_argument("--identity", metavar="ID", help="holder identity in the Lease (default: hostname-pid-random)")
    p.add_argument("--alert-webhook", metavar="URL", help="POST alerts (sync failed, degraded, recovered) as JSON to this URL")
    p.add_argument("--alert-format", choices=("json", "slack"), default=None, help="alert body: kubesync's JSON event or Slack's {\"text\": ...}")
    p.add_argument("--webhook", dest="webhook_deprecated", metavar="URL", help=argparse.SUPPRESS)  # old name of --alert-webhook
    p.add_argument("--webhook-format", dest="webhook_format_deprecated", choices=("json", "slack"), help=argparse.SUPPRESS)
    p.add_argument("--receiver-secret-file", metavar="F", help="shared secret for POST /webhook/<sync> (GitHub HMAC, GitLab token or bearer)")
    p.add_argument("--receiver-insecure", action="store_true", help="without a secret, accept unauthenticated POST /webhook/<sync>")
    p.add_argument("--ui-token-file", metavar="F", help="token for the dashboard's Sync now/Refresh (bearer or login form), and for reading off loopback")
    p.add_argument("--ui-public", action="store_true", help="let anyone read the dashboard on a non-loopback --listen address")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME", help="a Host name the dashboard, API and /metrics answer to besides IP addresses and localhost (repeatable)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="CIDR", help="a proxy whose X-Forwarded-For/-Proto are believed (repeatable)")
    p.add_argument("--session-ttl", default="8h", metavar="DURATION", help="how long a dashboard login lasts (default 8h); logout ends it at once")
    p.add_argument("--header-timeout", default="10s", metavar="DURATION", help="drop HTTP clients that send no complete request headers in this time")
    p.add_argument("--workers", type=int, default=8, metavar="N", help="syncs run at the same time, however many there are (default 8)")
    p.add_argument("--hook-timeout", default="10m", metavar="DURATION",
                   help="how long each hook phase may hold a worker (default 10m); a phase past it fails the run")
    _add_common(p)


def _command_cluster(sub, fmt) -> None:
    p = sub.add_parser("cluster", help="the embedded local control plane (etcd, kube-apiserver, controller-manager, scheduler; kwok nodes)", formatter_class=fmt)
    p.add_argument(
        "action", choices=("up", "down", "env", "build"),
        help="up: start it (in the background); down: stop it; env: print export KUBECONFIG=...; "
             "build: build (first time only) the control plane and the tools kubesync runs, from the Go module proxy",
    )
    p.add_argument("--dir", metavar="D", help="state folder (default: ~/.cache/kubesync/cluster)")
    p.add_argument(
        "--kubernetes-version", metavar="V", choices=("1.37", "1.20"), action="append",
        help="with up: 1.37 or 1.20 (default: the newest one whose binaries are built); "
             "with build: the control plane to build, repeatable (default: 1.37 unless only tools are asked for)",
    )
    p.add_argument("--tools", metavar="LIST", help="with build: tools to build, comma-separated: kwok, helm, registry, kustomize, sops, age-keygen")
    p.add_argument("--all", dest="all_tools", action="store_true", help="with build: every tool")
    p.add_argument("--nodes", type=int, default=3, metavar="N", help="with up: simulated nodes (kwok) to create and wait for (default 3; 0: none, pods stay Pending)")
    p.add_argument("--node-cpu", default="4", metavar="Q", help="with up: allocatable CPU of each node (default 4)")
    p.add_argument("--node-memory", default="16Gi", metavar="Q", help="with up: allocatable memory of each node (default 16Gi)")
    p.add_argument("--node-pods", type=int, default=110, metavar="N", help="with up: pods each node accepts (default 110)")
    _add_common(p)


def _command_version(sub, fmt) -> None:
    p = sub.add_parser("version", help="client and server versions, and the Kubernetes versions kubesync is tested on", formatter_class=fmt)
    p.add_argument("--client", action="store_true", help="the client's version only (no cluster needed)")
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")
    _add_common(p)


def _command_options(sub, fmt) -> None:
    p = sub.add_parser("options", help="the global flags every command accepts", formatter_class=fmt)
    _add_common(p)


def _command_completion(sub, fmt) -> None:
    p = sub.add_parser("completion", help="shell completion script: source <(kubesync completion bash)", formatter_class=fmt)
    p.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete for")
    _add_common(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubesync",
        description="Declarative, GitOps-style Kubernetes sync: plan, diff and apply a folder or git ref against a cluster.",
        epilog=EPILOG_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kubesync {__version__}")
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.RawDescriptionHelpFormatter
    commands = (_command_plan, _command_diff, _command_apply, _command_status, _command_list, _command_compare, _command_daemon,
                _command_cluster, _command_version, _command_options, _command_completion)
    for add in commands:  # one function per subcommand, in `--help` order
        add(sub, fmt)
    for p in sub.choices.values():
        p.epilog = f"{p.epilog}\n\n{GLOBAL_NOTE}" if p.epilog else GLOBAL_NOTE
    parser.subcommands = sub.choices  # type: ignore[attr-defined]  (for the usage of an unknown option)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    from kubesync.logs import setup

    setup(debug=getattr(args, "debug", False), fmt=getattr(args, "log_format", "text"))


def _bare_dry_run(argv: list[str]) -> list[str]:
    """`apply --dry-run PATH`: a bare --dry-run means client, as in kubectl, and never eats the PATH."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--dry-run" and out[i + 1] not in ("none", "client", "server"):
            out[i] = "--dry-run=client"
    return out


def redact(text: str) -> str:
    from kubesync.secrets import redact as scrub

    return scrub(text)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(_bare_dry_run(sys.argv[1:] if argv is None else argv))
    if unknown:  # the usage of the command it was given to, not the top-level one
        (parser.subcommands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not args.command:
        parser.print_help()
        return 1
    from kubesync.logs import redacted_output

    with redacted_output():  # no Secret value the process has seen leaves it on stdout or stderr
        _setup_logging(args)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(f"kubesync.commands.{args.command}")
        return int(module.run(args))
    except KubesyncError as e:
        if args.debug:
            logging.getLogger("kubesync").exception("failed")
        print(f"error: {redact(str(e))}", file=sys.stderr)  # a server may quote a Secret value
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for people, a (redacted) traceback with --debug
        if args.debug:
            logging.getLogger("kubesync").exception("unexpected %s", type(e).__name__)
        print(f"error: unexpected {type(e).__name__}: {redact(str(e))} (run with --debug for a traceback)", file=sys.stderr)
        return 1
