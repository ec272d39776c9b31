"""Idempotency keys for sends (SPEC F12): a send with an ``Idempotency-Key`` header stores its
answer under that key; a retry with the same key and the same request gets the stored answer (and
sends nothing); the same key with another request is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse

from marketmsg.accounts.models import ApiToken
from marketmsg.api.models import IdempotentRequest
from marketmsg.apikit.problems import Problem

KEY_HEADER = "Idempotency-Key"
MAX_KEY = 200


Answer = tuple[int, dict[str, Any]]


def once(request: HttpRequest, token: ApiToken, send: Callable[[], Answer]) -> JsonResponse:
    """Run ``send`` (which returns status and JSON body, or raises Problem) at most once per key."""
    key = request.headers.get(KEY_HEADER, "")
    if not key:
        return _json(*_answer(send, request.path))
    if len(key) > MAX_KEY or not key.isprintable():
        raise Problem(
            422,
            "invalid_idempotency_key",
            "Invalid Idempotency-Key",
            f"Use at most {MAX_KEY} printable characters, for example a UUID.",
            field=KEY_HEADER,
        )
    what = (request.method or "").encode() + request.path.encode() + request.body
    digest = hashlib.sha256(what).hexdigest()
    try:
        with transaction.atomic():
            stored = IdempotentRequest.objects.create(token=token, key=key, request_sha256=digest)
    except IntegrityError:
        earlier = IdempotentRequest.objects.get(token=token, key=key)
        if earlier.request_sha256 != digest:
            raise Problem(
                422,
                "idempotency_key_reused",
                "Idempotency-Key already used",
                "This key was used for a different request. Use a new key for a new message.",
                field=KEY_HEADER,
            ) from None
        if earlier.status is None:
            raise Problem(
                409,
                "request_in_progress",
                "Request still in progress",
                "The first request with this key is still being handled. Retry in a moment.",
            ) from None
        response = _json(earlier.status, earlier.response or {})
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        status, body = _answer(send, request.path)
    except Exception:
        stored.delete()  # nothing was decided: a retry may run it again
        raise
    IdempotentRequest.objects.filter(pk=stored.pk).update(status=status, response=body)
    return _json(status, body)


def _answer(send: Callable[[], Answer], instance: str) -> Answer:
    """The send's answer; a refusal (Problem) is an answer too, and is kept like a success."""
    try:
        return send()
    except Problem as problem:
        return problem.status, problem.body(instance)


def _json(status: int, body: dict[str, Any]) -> JsonResponse:
    problem = "code" in body and "status" in body and status >= 400
    return JsonResponse(
        json.loads(json.dumps(body, default=str)),
        status=status,
        content_type="application/problem+json" if problem else "application/json",
        json_dumps_params={"ensure_ascii": False},
    )
