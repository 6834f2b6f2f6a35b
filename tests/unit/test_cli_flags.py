"""Global flags before or after the subcommand, and the colour decision (--color, NO_COLOR)."""

from __future__ import annotations

import argparse

import pytest

from kubesync.cli import build_parser
from kubesync.commands.common import use_color


class Tty:
    def isatty(self) -> bool:
        return True


class Pipe:
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize(
    "argv",
    [
        ["--context", "prod", "--kubeconfig", "k.yaml", "plan", "dir"],
        ["plan", "dir", "--context", "prod", "--kubeconfig", "k.yaml"],
        ["--context", "prod", "plan", "--kubeconfig", "k.yaml", "dir"],
    ],
)
def test_global_flags_before_or_after_the_subcommand(argv):
    args = build_parser().parse_args(argv)
    assert (args.command, args.source, args.context, args.kubeconfig) == ("plan", "dir", "prod", "k.yaml")


def test_a_global_flag_after_the_subcommand_wins_over_one_before():
    args = build_parser().parse_args(["--context", "a", "diff", "dir", "--context", "b"])
    assert args.context == "b"


def test_global_flags_keep_their_defaults_when_given_nowhere():
    args = build_parser().parse_args(["plan", "dir"])
    assert (args.context, args.kubeconfig, args.color, args.log_format, args.debug) == (None, None, "auto", "text", False)


@pytest.mark.parametrize("argv", [["--debug", "apply", "dir"], ["apply", "dir", "--debug"]])
def test_boolean_global_flag_in_either_position(argv):
    assert build_parser().parse_args(argv).debug is True


@pytest.mark.parametrize("argv", [["--no-color", "plan", "d"], ["plan", "d", "--no-color"], ["--color=never", "plan", "d"]])
def test_no_color_is_color_never(argv):
    assert build_parser().parse_args(argv).color == "never"


def test_unknown_color_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["plan", "d", "--color", "sometimes"])
    assert e.value.code == 2 and "invalid choice: 'sometimes'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "color, no_color_env, stream, expected",
    [
        ("auto", None, Tty(), True),
        ("auto", None, Pipe(), False),
        ("auto", "1", Tty(), False),  # NO_COLOR set: no colour even on a terminal
        ("always", None, Pipe(), True),
        ("always", "1", Pipe(), True),  # an explicit flag beats the environment, as no-color.org asks
        ("never", None, Tty(), False),
    ],
)
def test_use_color(monkeypatch, color, no_color_env, stream, expected):
    monkeypatch.delenv("NO_COLOR", raising=False)
    if no_color_env is not None:
        monkeypatch.setenv("NO_COLOR", no_color_env)
    assert use_color(argparse.Namespace(color=color), stream) is expected


def test_empty_no_color_does_not_disable_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "")
    assert use_color(argparse.Namespace(color="auto"), Tty()) is True


class FakeTerminal:
    def __init__(self, tty: bool):
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_progress_line_only_on_a_terminal_and_only_after_the_delay():
    from kubesync.commands.progress import ProgressLine

    now = [0.0]
    term = FakeTerminal(tty=True)
    bar = ProgressLine(40, stream=term, delay=2.0, clock=lambda: now[0])
    bar.step("wave 0: v1 Namespace shop")
    assert term.text == ""  # a short run gets nothing extra
    now[0] = 2.5
    bar.step("wave 3: v1 ConfigMap shop/a")
    assert term.text == "\r\x1b[K[2/40] wave 3: v1 ConfigMap shop/a"
    bar.clear()
    assert term.text.endswith("\r\x1b[K") and not bar.shown

    pipe = FakeTerminal(tty=False)
    quiet = ProgressLine(40, stream=pipe, delay=0.0, clock=lambda: 10.0)
    quiet.step("wave 5: apps/v1 Deployment shop/web")
    quiet.clear()
    assert pipe.text == ""  # not a terminal: nothing


def test_kube_api_limits_are_off_for_one_shot_commands_paced_for_the_daemon_and_go_before_or_after_the_command(tmp_path):
    from kubesync.commands.common import client_settings
    from kubesync.commands.daemon import settings_from

    s = client_settings(build_parser().parse_args(["plan", "d"]))
    assert (s.qps, s.burst) == (0.0, 300)
    s = settings_from(build_parser().parse_args(["daemon", str(tmp_path), "--name", "a"])).client
    assert (s.qps, s.burst) == (100.0, 300)
    for argv in (["--kube-api-qps", "12.5", "plan", "d", "--kube-api-burst", "7"], ["plan", "d", "--kube-api-qps=12.5", "--kube-api-burst=7"]):
        s = client_settings(build_parser().parse_args(argv))
        assert (s.qps, s.burst, s.timeout) == (12.5, 7, 30.0)
    assert client_settings(build_parser().parse_args(["apply", "d", "--kube-api-qps", "0"])).qps == 0.0


def test_the_daemon_takes_the_kube_api_limits(tmp_path):
    from kubesync.commands.daemon import settings_from

    s = settings_from(build_parser().parse_args(["daemon", str(tmp_path), "--name", "a", "--kube-api-qps", "5", "--kube-api-burst", "10"]))
    assert (s.client.qps, s.client.burst) == (5.0, 10)


@pytest.mark.parametrize(
    "flag, value",
    [("--kube-api-qps", "fast"), ("--kube-api-qps", "nan"), ("--kube-api-qps", "inf"), ("--kube-api-qps", ""),
     ("--kube-api-burst", "0"), ("--kube-api-burst", "-3"), ("--kube-api-burst", "2.5"), ("--kube-api-burst", "lots"),
     ("--kube-api-burst", "9" * 5000)],
)
def test_bad_kube_api_limits_are_usage_errors_naming_the_flag(tmp_path, capsys, flag, value):
    from kubesync.cli import main

    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    code = main(["plan", str(tmp_path), f"{flag}={value}", "--kubeconfig", str(tmp_path / "none.yaml")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: {flag}: ") and "not a" in err and len(err) < 200, err


@pytest.mark.parametrize("command", ["plan", "diff", "apply"])
def test_validate_takes_kubectls_values_and_server_as_strict(command):
    from kubesync.commands.common import flags
    from kubesync.settings import Validation

    parse = build_parser().parse_args
    assert flags(parse([command, "dir"])).validation is None  # not given: kubesync.yaml's, else strict
    for value, want in (("strict", Validation.STRICT), ("server", Validation.STRICT), ("warn", Validation.WARN),
                        ("none", Validation.NONE)):
        assert flags(parse([command, "dir", f"--validate={value}"])).validation is want
    with pytest.raises(SystemExit):
        parse([command, "dir", "--validate=lenient"])
    help_text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "strict|warn|none" in help_text and "`server` is the same" in help_text
