"""The REST API, version 1 (SPEC F12), at /api/v1/: OpenAPI 3 at /api/v1/openapi.json, browsable
docs at /api/v1/docs (served from our own static files, no CDN).

Every write goes through the same functions as the web (conversations.compose) and so through
``post_message``. Errors are RFC 9457 problem details (apikit.problems); requests are
rate-limited per token (apikit.turns) and sends honour ``Idempotency-Key`` (api.idempotency).
"""

from __future__ import annotations

from marketmsg.api import messages, shop
from marketmsg.api.auth import TokenAuth
from marketmsg.apikit.framework import LocalSwagger, MarketmsgAPI, ReadableJSON, handle_errors

api = MarketmsgAPI(
    renderer=ReadableJSON(),
    title="marketmsg API",
    version="1",
    description=(
        "Read and answer buyer messages from your own tools. Authenticate with "
        "`Authorization: Bearer <token>`; create tokens under Settings › API tokens. Errors are "
        "RFC 9457 problem details; sends accept an `Idempotency-Key` header."
    ),
    auth=TokenAuth(),
    docs=LocalSwagger(),
    urls_namespace="api-v1",
)
api.add_router("", messages.router)
api.add_router("", shop.router)
handle_errors(
    api, "Send a valid token as 'Authorization: Bearer <token>'. Create one under Settings › API tokens."
)
