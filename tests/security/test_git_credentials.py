"""Finding 8 (git): a password in a repository URL never reaches a command line, and every
credential form in a URL is redacted from messages.

The repository is served over HTTP with Basic authentication (git's dumb protocol from a real bare
repository), so the fetch only succeeds if the password reached git; every program started during
the fetch is traced (strace -f, execve), so any argv that carried the password is seen.
"""

from __future__ import annotations

import base64
import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kubesync.errors import SourceError
from kubesync.sources import SourceSpec, load, redact

USER, PASSWORD = "deploy-bot", "pa55-Wd-7f3e9c1b"


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def served_repository(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fetched}\n")
    git("add", ".", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one", cwd=work)
    bare = tmp_path / "www" / "repo.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("update-server-info", cwd=bare)
    return bare.parent


class _BasicAuth(http.server.SimpleHTTPRequestHandler):
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


TOKEN = "ghp_7f3e9c1bTokenAsUser0123"


class _TokenAsUser(_BasicAuth):
    """GitHub's and GitLab's form: the token is the user name, the password empty."""

    expected = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()


def serve(tmp_path, handler, userinfo: str):
    root = served_repository(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{userinfo}@127.0.0.1:{server.server_address[1]}/repo.git"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_repo(tmp_path):
    yield from serve(tmp_path, _BasicAuth, f"{USER}:{PASSWORD}")


@pytest.fixture
def token_repo(tmp_path):
    yield from serve(tmp_path, _TokenAsUser, TOKEN)


CHILD = """
import sys
from kubesync.sources import SourceSpec, load
state = load(SourceSpec(repo=sys.argv[1]))
print(",".join(m.ref.name for m in state.manifests))
"""


def traced_fetch(url: str, tmp_path: Path) -> list[str]:
    """Fetch in a child process under strace; the argument lists of every program it started."""
    assert shutil.which("strace"), "strace traces every exec of the fetch (Debian's strace; the Makefile installs it)"
    trace = tmp_path / "exec.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-s", "100000", "-e", "trace=execve", "-o", str(trace), sys.executable, "-c", CHILD, url],
        capture_output=True, text=True, timeout=120, env=env, cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fetched"  # the credential reached git: the server let it in
    execs = [line for line in trace.read_text().splitlines() if "execve(" in line]
    assert any('"fetch"' in line for line in execs), "the fetch itself was traced"
    return [line.split("[", 1)[1].split("]", 1)[0] for line in execs]


def test_a_token_as_the_user_name_reaches_git_but_no_command_line(token_repo, tmp_path):
    for argv in traced_fetch(token_repo, tmp_path):
        assert TOKEN not in argv, f"the token is on a command line: {argv[:300]}"


def test_a_url_password_reaches_git_but_no_command_line(http_repo, tmp_path):
    argvs = traced_fetch(http_repo, tmp_path)
    assert any("remote-http" in argv for argv in argvs), "git's HTTP helper was traced too"
    for argv in argvs:
        assert PASSWORD not in argv, f"the password is on a command line: {argv[:300]}"


def test_a_wrong_password_fails_with_a_redacted_message(http_repo, tmp_path):
    wrong = http_repo.replace(PASSWORD, "wrong-pass-123456")
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo=wrong))
    assert "wrong-pass-123456" not in str(info.value) and USER not in str(info.value)
    assert "cannot fetch http://127.0.0.1:" in str(info.value)


def test_a_token_in_the_query_string_is_refused_without_being_shown():
    with pytest.raises(SourceError) as info:
        load(SourceSpec(repo="https://git.example/org/repo.git?private_token=glpat-abcdef123456"))
    assert "glpat-abcdef123456" not in str(info.value)
    assert "query string" in str(info.value)


@pytest.mark.parametrize("text", [
    "https://user:hunter2-secret@git.example/r.git",
    "https://git.example/r.git?token=hunter2-secret",
    "https://git.example/r.git?x=1&access_token=hunter2-secret",
    "https://gitlab.example/api/v4/projects?private_token=hunter2-secret&page=2",
    "https://oauth2:hunter2-secret@gitlab.example/g/r.git",
    "Authorization: Bearer hunter2-secret",
    "https://blob.example/c/f?sv=2022&sig=hunter2-secret",
])
def test_every_credential_form_in_a_url_is_redacted(text):
    assert "hunter2-secret" not in redact(f"cannot fetch {text}: 403")
