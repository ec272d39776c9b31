"""RFC 9457 problem details, for the sellers' API and the operator's API alike: every API error is
``application/problem+json`` with a machine-readable code, a title, and a sentence a person can act
on."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from ninja import Schema

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


class FindingOut(Schema):
    rule: str
    severity: str
    start: int
    end: int
    text: str
    explanation_ja: str
    explanation_en: str


class ProblemOut(Schema):
    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    field: str | None = None
    findings: list[FindingOut] | None = None
    errors: list[dict[str, Any]] | None = None
