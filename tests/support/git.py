"""Real git repositories in temp folders (the pre-commit `testing/fixtures.py` way), never mocks."""

from __future__ import annotations

from pathlib import Path

import git


def init_repo(path: str | Path, files: dict[str, str] | None = None, *, branch: str = "main",
              message: str = "first") -> git.Repo:
    """A repository with a committer identity of its own (no global git config needed); with `files`
    (relative path -> text), their first commit."""
    repo = git.Repo.init(path, initial_branch=branch)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "test")
        cw.set_value("user", "email", "test@example.com")
    if files:
        commit(repo, files, message)
    return repo


def commit(repo: git.Repo, files: dict[str, str], message: str = "change") -> str:
    """Write these files (creating folders), stage and commit them; the new commit's sha."""
    root = Path(repo.working_tree_dir)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    repo.index.add(list(files))
    return repo.index.commit(message).hexsha
