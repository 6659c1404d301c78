"""The error shape of the Bot API, raised anywhere in the simulator and rendered by the server."""

from __future__ import annotations

from typing import Any

_PREFIXES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class ApiError(Exception):
    """A Bot API failure: ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(
        self, status: int, detail: str | None = None, parameters: dict[str, Any] | None = None
    ) -> None:
        prefix = _PREFIXES.get(status, "Error")
        # Telegram's descriptions are "<Status phrase>: <detail>", or the bare phrase.
        self.description = f"{prefix}: {detail}" if detail else prefix
        super().__init__(self.description)
        self.status = status
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str, parameters: dict[str, Any] | None = None) -> ApiError:
    return ApiError(400, detail, parameters)


def retry_after(seconds: int) -> ApiError:
    return ApiError(429, f"retry after {seconds}", {"retry_after": seconds})
