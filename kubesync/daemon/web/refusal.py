"""`Refused`: a request answered with an error before (or instead of) reading its body."""

from __future__ import annotations

from starlette.responses import JSONResponse


class Refused(Exception):
    """A request answered with an error; the connection is closed (its body may be unread)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = {"Connection": "close", **(headers or {})}

    def response(self) -> JSONResponse:
        return JSONResponse({"error": str(self)}, self.status, headers=self.headers)
