"""The REST API, version 1 (SPEC F12), at /api/v1/: OpenAPI 3 at /api/v1/openapi.json, browsable
docs at /api/v1/docs (served from our own static files, no CDN).

Every write goes through the same functions as the web (conversations.compose) and so through
``post_message``: a message the guidelines block is stored as blocked and answered 422 with the
findings. Errors are RFC 9457 problem details (api.problems).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, ValidationError
from ninja.renderers import JSONRenderer

from marketmsg.api.auth import TokenAuth, needs, shop_of
from marketmsg.api.problems import Problem, not_found
from marketmsg.conversations import compose, screening
from marketmsg.conversations.errors import FormProblem, GuidelinesProblem
from marketmsg.conversations.models import Conversation, Message
from marketmsg.orders.models import Order
from marketmsg.policy.guidelines import Finding


class ReadableJSON(JSONRenderer):
    """Japanese as UTF-8 text, not \\u escapes: the explanations are meant to be read."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=ReadableJSON(),
    title="marketmsg API",
    version="1",
    description=(
        "Read and answer buyer messages from your own tools. Authenticate with "
        "`Authorization: Bearer <token>`; create tokens under Settings › API tokens."
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
)


# --- schemas ------------------------------------------------------------------------------------
class FindingOut(Schema):
    rule: str
    severity: str
    start: int
    end: int
    text: str
    explanation_ja: str
    explanation_en: str


class CheckIn(Schema):
    text: str
    html: str = ""
    conversation_id: int | None = None


class CheckOut(Schema):
    blocked: bool
    findings: list[FindingOut]


class ReplyIn(Schema):
    text: str


class OrderMessageIn(Schema):
    text: str
    subject: str = ""
    reason: str = "other"


class MessageOut(Schema):
    id: int
    conversation_id: int
    author: str
    channel: str
    state: str
    subject: str
    text: str
    created_at: str


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


ERRORS: dict[int, Any] = {401: ProblemOut, 403: ProblemOut, 404: ProblemOut, 422: ProblemOut}


# --- error handlers -----------------------------------------------------------------------------
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
        "Send a valid token as 'Authorization: Bearer <token>'. Create one under Settings › API tokens.",
    )
    response = problem.response(request.path)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "payload")),
            "message": e.get("msg", ""),
        }
        for e in error.errors
    ]
    fields = ", ".join(e["field"] for e in errors if e["field"]) or "the request"
    return Problem(422, "invalid_request", "Invalid request", f"Check {fields}.", errors=errors).response(
        request.path
    )


def _form_problem(error: FormProblem) -> Problem:
    if isinstance(error, GuidelinesProblem):
        code = "buyer_opted_out" if error.opted_out and not error.findings else "guidelines_blocked"
        return Problem(
            422,
            code,
            "Blocked by the communication guidelines",
            str(error.text),
            findings=[_finding(f) for f in error.findings],
        )
    return Problem(422, "invalid_message", "Message not accepted", str(error.text), field=error.field)


def _finding(finding: Finding) -> dict[str, Any]:
    return FindingOut.model_validate(finding, from_attributes=True).model_dump()


def _message(message: Message) -> MessageOut:
    return MessageOut(
        id=message.pk,
        conversation_id=message.conversation_id,
        author=message.author,
        channel=message.channel,
        state=message.state,
        subject=message.subject,
        text=message.text,
        created_at=message.created_at.isoformat(),
    )


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    found = (
        Conversation.objects.filter(pk=conversation_id, seller=shop_of(needs(request, "read")))
        .select_related("seller", "buyer__user", "order")
        .first()
    )
    if found is None:
        raise not_found("conversation")
    return found


# --- endpoints ----------------------------------------------------------------------------------
@api.post("/guidelines/check", response={200: CheckOut, **ERRORS}, tags=["guidelines"])
def check_guidelines(request: HttpRequest, draft: CheckIn) -> CheckOut:
    """Dry run: what the communication guidelines would find in a draft, without sending anything.
    With ``conversation_id``, words the buyer wrote first in that conversation are excused, exactly
    as when the message is sent."""
    needs(request, "read")
    conversation = _conversation(request, draft.conversation_id) if draft.conversation_id else None
    verdict = screening.check_draft(draft.text[:20_000], draft.html[:200_000], conversation)
    return CheckOut(
        blocked=verdict.blocked,
        findings=[FindingOut.model_validate(f, from_attributes=True) for f in verdict.findings],
    )


@api.post("/conversations/{conversation_id}/replies", response={201: MessageOut, **ERRORS}, tags=["messages"])
def reply(request: HttpRequest, conversation_id: int, body: ReplyIn) -> Status[MessageOut]:
    """Answer the buyer in a conversation. 422 ``guidelines_blocked`` with the findings when the
    text breaks the communication guidelines (the message is kept as blocked, not delivered)."""
    user = needs(request, "write")
    conversation = _conversation(request, conversation_id)
    try:
        sent = compose.seller_reply(user, conversation, body.text, channel=Message.Channel.API)
    except FormProblem as error:
        raise _form_problem(error) from error
    assert sent is not None
    return Status(201, _message(sent))


@api.post("/orders/{order_id}/messages", response={201: MessageOut, **ERRORS}, tags=["messages"])
def contact_buyer(request: HttpRequest, order_id: str, body: OrderMessageIn) -> Status[MessageOut]:
    """Write to the buyer of an order (Contact buyer). ``reason`` is one of delivery, cannot_ship,
    confirm, return (an order problem, which reaches a buyer who declined unprompted messages) or
    other."""
    user = needs(request, "write")
    order = (
        Order.objects.filter(order_id=order_id, seller=shop_of(user))
        .select_related("buyer", "seller")
        .first()
    )
    if order is None:
        raise not_found("order")
    try:
        sent = compose.contact_buyer(
            user, order, body.subject, body.text, reason=body.reason, channel=Message.Channel.API
        )
    except FormProblem as error:
        raise _form_problem(error) from error
    return Status(201, _message(sent))
