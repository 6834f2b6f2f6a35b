"""Request bodies: read only once the headers authenticated the request, never past a limit, and all
of them together within one budget.

Every route that reads a body calls `read()` after it has checked what the headers can prove (a
bearer token, a session, the shape of a signature): an unauthenticated client is refused before a
byte of its body is read (the server reads none ahead: daemon/protocol.py). What must be read to be
verified (a GitHub HMAC covers the body) is read up to the route's limit into memory reserved from
`Budget`, shared by every request of the listener: when it is spent the request gets 503 at once,
unread, so a thousand clients sending bodies cost the daemon the budget and no more. A reservation
lasts as long as the `async with` that read the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from kubesync.daemon.web.refusal import Refused

log = logging.getLogger(__name__)


class Budget:
    """Bytes of bodies held at once (one event loop: a counter, no lock)."""

    def __init__(self, total: int):
        self.total = total
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.total:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used = max(0, self.used - size)


def _busy() -> Refused:
    log.warning("http: the budget for request bodies is spent; answering 503 until bodies being read end")
    return Refused(503, "too many request bodies are being read right now; retry in a moment", {"Retry-After": "1"})


def declared_length(request: Request, limit: int) -> int | None:
    """Content-Length when given (Refused when malformed or over `limit`), None for a chunked body."""
    length = request.headers.get("content-length")
    if length is None:
        return None
    if not length.isdigit():
        raise Refused(400, "invalid Content-Length")
    if int(length) > limit:
        raise Refused(413, f"the body is larger than {limit} bytes")
    return int(length)


@contextlib.asynccontextmanager
async def read(request: Request, limit: int, budget: Budget, timeout: float) -> AsyncIterator[bytearray]:
    """The body (at most `limit` bytes, within `timeout` seconds), held in memory reserved from `budget`
    until the `async with` ends; Refused (413, 400, 408, 503) otherwise."""
    length = declared_length(request, limit)
    held = [0]
    try:
        try:
            async with asyncio.timeout(timeout):
                body = await _fill(request, length, limit, budget, held)
        except TimeoutError:
            raise Refused(408, f"the body took longer than {timeout:g}s") from None
        except ClientDisconnect:
            raise Refused(400, "the client went away before the body ended") from None
        yield body
    finally:
        budget.give(held[0])


async def _fill(request: Request, length: int | None, limit: int, budget: Budget, held: list[int]) -> bytearray:
    """Read the body into one buffer of its declared length, or (chunked) growing chunk by chunk; each byte
    reserved from `budget` before it is read (`held[0]`: what is reserved)."""
    if length is not None:
        if not budget.take(length):
            raise _busy()
        held[0] = length
    body = bytearray(length or 0)
    got = 0
    async for chunk in request.stream():
        if got + len(chunk) > (limit if length is None else length):
            raise Refused(413, f"the body is larger than {limit} bytes" if length is None else
                          "the body is longer than its Content-Length")
        if length is None:
            if not budget.take(len(chunk)):
                raise _busy()
            held[0] += len(chunk)
            body += chunk
        else:
            body[got:got + len(chunk)] = chunk
        got += len(chunk)
    del body[got:]
    return body
