"""Rate limiting per token, and idempotency keys for sends (SPEC F12).

The limit counts requests in fixed one-minute windows on the token's own row, so every web
process sees the same count. A send with an ``Idempotency-Key`` header stores its answer under
that key: a retry with the same key and the same request gets the stored answer (and sends
nothing); the same key with another request is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Model
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from marketmsg.accounts.models import ApiToken
from marketmsg.api.models import IdempotentRequest
from marketmsg.api.problems import Problem

KEY_HEADER = "Idempotency-Key"
MAX_KEY = 200


def take_turn(token: Model, limit: int | None = None) -> None:
    """Count one request of ``token`` (a seller's ApiToken or an operator credential: any row with
    window_start, window_count and last_used_at); Problem 429 with Retry-After when it is over its
    ``limit`` a minute (MARKETMSG_API_RATE_LIMIT unless given)."""
    limit = settings.API_RATE_LIMIT if limit is None else limit
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    rows = type(token)._default_manager.filter(pk=token.pk)
    with transaction.atomic():
        counted = rows.filter(window_start=window).update(
            window_count=F("window_count") + 1, last_used_at=now
        )
        if not counted:
            rows.update(window_start=window, window_count=1, last_used_at=now)
            return
        count = rows.values_list("window_count", flat=True)[0]
    if count > limit:
        retry_after = 60 - now.second
        raise Problem(
            429,
            "rate_limited",
            "Too many requests",
            f"This key may make {limit} requests a minute. Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


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
