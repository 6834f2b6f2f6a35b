"""Shared test support: one CLI runner, one harness over the facade, waits and git helpers.

    cli.py      run `python -m kubesync ...` as a subprocess (the one runner every e2e test uses)
    harness.py  one sync planned and applied through kubesync.sync, as `kubesync apply` does
    waits.py    wait_for (poll until true) and settle (until an object stops changing)
    git.py      real git repositories in temp folders
"""
