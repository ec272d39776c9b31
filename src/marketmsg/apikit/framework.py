"""What the sellers' API and the operator's API share of django-ninja: readable JSON, Swagger UI from
our own static files, and every error as RFC 9457 problem details (apikit.problems)."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.openapi.schema import OpenAPISchema
from ninja.renderers import JSONRenderer

from marketmsg.apikit.problems import CONTENT_TYPE as PROBLEM
from marketmsg.apikit.problems import Problem, not_found


class ReadableJSON(JSONRenderer):
    """Japanese as UTF-8 text, not \\u escapes: the explanations are meant to be read."""

    json_dumps_params = {"ensure_ascii": False}


class LocalSwagger(Swagger):
    """Swagger UI from the static files we serve (settings.STATICFILES_DIRS), never from a CDN.
    django-ninja does this only when installed as an app, which would load it in every process."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api, "add_csrf": False}
        return render(request, self.template, context)


class MarketmsgAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        """Error answers are documented as what they are: application/problem+json."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[PROBLEM] = content.pop("application/json")
        return schema


def handle_errors(api: NinjaAPI, unauthenticated: str) -> None:
    """Every error of ``api`` as problem+json; ``unauthenticated`` tells how to sign a request."""

    @api.exception_handler(Problem)
    def _problem(request: HttpRequest, error: Problem) -> HttpResponse:
        return error.response(request.path)

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        return not_found("resource").response(request.path)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        problem = Problem(
            401,
            "unauthenticated",
            "Not authenticated",
            unauthenticated,
            headers={"WWW-Authenticate": "Bearer"},
        )
        return problem.response(request.path)

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        if error.status_code == 400:  # the framework could not parse the body
            problem = Problem(422, "invalid_json", "Invalid JSON", "The request body is not valid JSON.")
        else:
            problem = Problem(error.status_code, "http_error", "Request not handled", str(error))
        return problem.response(request.path)

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        errors = [
            {
                "field": ".".join(
                    str(p) for p in e.get("loc", ()) if p not in ("body", "payload", "query", "params")
                ),
                "message": e.get("msg", ""),
            }
            for e in error.errors
        ]
        fields = ", ".join(e["field"] for e in errors if e["field"]) or "the request"
        problem = Problem(422, "invalid_request", "Invalid request", f"Check {fields}.", errors=errors)
        return problem.response(request.path)
