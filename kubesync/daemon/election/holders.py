"""Which Lease records a replica believes: holders that are replica identities, durations within bounds.

Whoever can write Leases in the lease namespace can write any record: a holder of their choosing,
`leaseDurationSeconds: 2000000000`. Believed as written, one such Lease would keep every replica
waiting for ever, ready and silent. So a record is checked against two things a replica knows:
- its duration must be within 1..`duration_bound` (--lease-max-duration; by default 4 x
  --lease-duration, at least 60 s). Every replica's own duration is within that bound (the CLI
  refuses one that is not), so a record claiming more was not written by one: it is a conflict,
  and is believed only up to the bound. A Lease that stops changing therefore expires at the latest
  `duration_bound` after its last change, and a replica takes it over then;
- its holder must look like a replica identity (--lease-holders; by default the form kubesync
  generates, `<host>-<pid>-<6 hex digits>`, or our own --identity). An unknown holder is a conflict
  too, reported; it is not taken over while it keeps renewing, because a replica cannot tell a
  squatter from a replica configured differently, and taking the Lease from a live replica would make
  two writers.

Safety first, then liveness: no record makes two replicas write at once; a squatted Lease that is
not renewed stops blocking after the bound; one that keeps being renewed blocks, but never silently:
every conflict is logged when it appears and when it clears, listed on /readyz, in GET
/api/v1/syncs (`election`), on the dashboard and in `kubesync_lease_conflicts`. Identities are not
authenticated (anyone who may write the Lease may write any name): the RBAC in deploy/ is what keeps
others from writing these Leases; these checks make a breach of it visible and bounded.
"""

from __future__ import annotations

import re
from typing import Callable

DEFAULT_HOLDERS = r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9]+-[0-9a-f]{6}"
"""The identities `default_identity()` makes: hostname-pid-random."""


def known_holders(identity: str, pattern: str = "") -> Callable[[str], bool]:
    """A test of holder identities: our own, and those matching `pattern` (or DEFAULT_HOLDERS)."""
    regex = re.compile(pattern or DEFAULT_HOLDERS)
    return lambda holder: holder == identity or regex.fullmatch(holder) is not None


def check_pattern(pattern: str) -> str:
    """`pattern` when it compiles; ValueError saying why not."""
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{pattern!r} is not a regular expression: {e}") from None
    return pattern


def believed_duration(duration: int, bound: float) -> float:
    """How long a record's claim is believed to last: its duration, at most `bound`."""
    return min(float(duration), bound)


def conflict(holder: str, duration: int, known: Callable[[str], bool], bound: float) -> str:
    """Why a record was not written by one of our replicas ('' when nothing says so). A released Lease
    (no holder) is never a conflict."""
    if not holder:
        return ""
    problems = []
    if not known(holder):
        problems.append(f"held by {holder[:100]!r}, not a replica identity (--lease-holders)")
    if not 1 <= duration <= bound:
        problems.append(f"leaseDurationSeconds {duration} is outside 1..{bound:g} (--lease-max-duration)")
    return "; ".join(problems)
