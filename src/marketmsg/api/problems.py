"""RFC 9457 problem details: every API error is ``application/problem+json`` with a machine-readable
code, a title, and a sentence a person can act on."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail, self.extra = status, code, title, detail, extra
        self.headers = headers or {}

    def body(self, instance: str) -> dict[str, Any]:
        return {
            "type": f"https://marketmsg.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            "instance": instance,
            **self.extra,
        }

    def response(self, instance: str) -> JsonResponse:
        response = JsonResponse(
            self.body(instance),
            status=self.status,
            content_type=CONTENT_TYPE,
            json_dumps_params={"ensure_ascii": False},
        )
        response["Content-Language"] = "en"
        for name, value in self.headers.items():
            response[name] = value
        return response


def not_found(what: str) -> Problem:
    return Problem(404, "not_found", "Not found", f"No such {what} in your shop.")
