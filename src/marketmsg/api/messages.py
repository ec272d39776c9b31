"""Messages and conversations through the API: the same lists, pages and sends as the web.

Sends take JSON, or multipart/form-data when they carry files (``files``, repeated), and go
through conversations.compose and so through ``post_message`` like every other channel.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

import pydantic
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Query, Router, Schema

from marketmsg.addresses import services as addresses
from marketmsg.api import idempotency
from marketmsg.api.auth import needs, shop_of, token_of
from marketmsg.api.schemas import (
    AttachmentOut,
    CheckIn,
    CheckOut,
    ConversationOut,
    ListedMessageOut,
    MarkedOut,
    MessageOut,
    MessagePage,
    OrderItemOut,
    OrderMessageIn,
    ReplyIn,
)
from marketmsg.apikit.problems import FindingOut, Problem, ProblemOut, not_found
from marketmsg.blobs.store import BlobMissing
from marketmsg.conversations import compose, screening, stored, visibility
from marketmsg.conversations.errors import FormProblem, GuidelinesProblem
from marketmsg.conversations.listing import ListQuery, messages_for, row_facts
from marketmsg.conversations.models import Attachment, Conversation, Message
from marketmsg.delivery import status as delivery_status
from marketmsg.orders.models import Order

router = Router(tags=["messages"])
ERRORS: dict[int, Any] = {
    401: ProblemOut,
    403: ProblemOut,
    404: ProblemOut,
    409: ProblemOut,
    422: ProblemOut,
    429: ProblemOut,
}
S = TypeVar("S", bound=Schema)


# --- reading requests ---------------------------------------------------------------------------
def _body(request: HttpRequest, schema: type[S]) -> tuple[S, list[UploadedFile]]:
    """The request's fields as ``schema``, from JSON or from a multipart form with files."""
    if request.content_type == "multipart/form-data":
        fields: Any = {key: request.POST.get(key) for key in request.POST}
        files = request.FILES.getlist("files")
    else:
        try:
            fields = json.loads(request.body or b"{}")
        except ValueError:
            raise Problem(
                422, "invalid_json", "Invalid JSON", "The request body is not valid JSON."
            ) from None
        files = []
    try:
        return schema.model_validate(fields), files
    except pydantic.ValidationError as error:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in error.errors()]
        fields_named = ", ".join(e["field"] for e in errors if e["field"]) or "the body"
        raise Problem(
            422, "invalid_request", "Invalid request", f"Check {fields_named}.", errors=errors
        ) from None


def _request_body(schema: type[Schema]) -> dict[str, Any]:
    """The OpenAPI requestBody of a send: JSON, or a multipart form with the same fields and files."""
    json_schema = schema.model_json_schema()
    form = {
        "type": "object",
        "properties": {
            **json_schema["properties"],
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        },
        "required": json_schema.get("required", []),
    }
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": json_schema}, "multipart/form-data": {"schema": form}},
        }
    }


# --- writing answers ----------------------------------------------------------------------------
def attachment_out(attachment: Attachment) -> AttachmentOut:
    removed = attachment.removed_at is not None
    return AttachmentOut(
        id=attachment.pk,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        removed=removed,
        removed_reason=attachment.removed_reason,
        url=None if removed else f"/api/v1/attachments/{attachment.pk}",
    )


def _delivery(message: Message) -> dict[str, Any]:
    found = getattr(message, "delivery_status", None) or delivery_status.of_messages([message.pk])[message.pk]
    return {"delivery": found.kind.value, "next_attempt_at": found.next_try}


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.pk,
        conversation_id=message.conversation_id,
        author=message.author,
        channel=message.channel,
        state=message.state,
        subject=message.subject,
        text=visibility.body_of(message),
        needs_reply=message.needs_reply,
        no_reply_needed=message.marked_no_reply_at is not None,
        has_attachments=message.has_attachments,
        blocked_rules=message.guideline_rules.split() if message.state == Message.State.BLOCKED else [],
        attachments=[attachment_out(a) for a in sorted(message.attachments.all(), key=lambda a: a.pk)],
        created_at=message.created_at,
        **_delivery(message),
    )


def _form_problem(error: FormProblem) -> Problem:
    if isinstance(error, GuidelinesProblem):
        code = "buyer_opted_out" if error.opted_out and not error.findings else "guidelines_blocked"
        return Problem(
            422,
            code,
            "Blocked by the communication guidelines",
            str(error.text),
            findings=[
                FindingOut.model_validate(f, from_attributes=True).model_dump() for f in error.findings
            ],
        )
    return Problem(422, "invalid_message", "Message not accepted", str(error.text), field=error.field)


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    found = (
        Conversation.objects.filter(pk=conversation_id, seller=shop_of(needs(request, "read")))
        .select_related("seller", "buyer__user", "order")
        .first()
    )
    if found is None:
        raise not_found("conversation")
    return found


def _sent(message: Message) -> idempotency.Answer:
    fresh = Message.objects.prefetch_related("attachments").get(pk=message.pk)
    return 201, message_out(fresh).model_dump(mode="json")


# --- endpoints ----------------------------------------------------------------------------------
class ListParams(Schema):
    box: str = "received"
    q: str = ""
    period: str = ""
    date_from: str = pydantic.Field("", alias="from")
    date_to: str = pydantic.Field("", alias="to")
    status: str = ""
    attachments: bool = False
    limit: int = pydantic.Field(25, ge=1, le=100)
    cursor: str = ""


@router.get("/messages", response={200: MessagePage, **ERRORS})
def list_messages(request: HttpRequest, params: Query[ListParams]) -> MessagePage:
    """The Received (``box=received``) or Sent (``box=sent``) list, newest first, as on the web:
    ``q`` searches an order ID, an ASIN or an e-mail address (never subjects or bodies);
    ``period`` is today, 7, 30, 90 or custom (with ``from``/``to`` as YYYY-MM-DD);
    ``status=awaiting`` keeps messages still waiting for a reply; ``attachments=true`` only those
    with files. Pass ``next_cursor`` back as ``cursor`` for the next page."""
    seller = shop_of(needs(request, "read"))
    query = ListQuery.from_params(
        {
            "box": params.box,
            "q": params.q,
            "period": params.period,
            "from": params.date_from,
            "to": params.date_to,
            "status": params.status,
            "attachments": "1" if params.attachments else "",
        }
    )
    messages = messages_for(seller, query)
    if params.cursor:
        at, last_id = _cursor(params.cursor)
        messages = messages.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=last_id))
    page = list(messages[: params.limit + 1])
    more = len(page) > params.limit
    page = page[: params.limit]
    facts = row_facts(page)
    delivery_status.attach(page)
    items = [
        ListedMessageOut(
            id=m.pk,
            conversation_id=m.conversation_id,
            author=m.author,
            state=m.state,
            subject=m.subject,
            buyer_name=facts[m.conversation_id].buyer_name,
            order_id=facts[m.conversation_id].order_id,
            asins=list(facts[m.conversation_id].asins),
            needs_reply=m.needs_reply,
            no_reply_needed=m.marked_no_reply_at is not None,
            has_attachments=m.has_attachments,
            created_at=m.created_at,
            **_delivery(m),
        )
        for m in page
    ]
    next_cursor = _make_cursor(page[-1]) if more and page else None
    return MessagePage(items=items, next_cursor=next_cursor, notes=[str(e) for e in query.errors])


def _make_cursor(message: Message) -> str:
    return base64.urlsafe_b64encode(f"{message.created_at.isoformat()}|{message.pk}".encode()).decode()


def _cursor(text: str) -> tuple[datetime, int]:
    try:
        at, _, last_id = base64.urlsafe_b64decode(text.encode()).decode().partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, int(last_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(
            422,
            "invalid_cursor",
            "Invalid cursor",
            "Pass back the next_cursor of the previous page unchanged, or leave it out.",
            field="cursor",
        ) from None


class ThreadParams(Schema):
    limit: int = pydantic.Field(100, ge=1, le=500)


@router.get("/conversations/{conversation_id}", response={200: ConversationOut, **ERRORS})
def read_conversation(
    request: HttpRequest, conversation_id: int, params: Query[ThreadParams]
) -> ConversationOut:
    """A conversation with its latest ``limit`` messages, oldest first, including held and blocked
    ones (with the rules that blocked them); marketplace notices are not listed."""
    conversation = _conversation(request, conversation_id)
    shown = visibility.visible_messages(conversation, Message.Author.SELLER, params.limit)
    earlier = len(shown) > params.limit
    shown = shown[1:] if earlier else shown
    relay = addresses.relay_pair(conversation.buyer, conversation.seller).buyer_address.address
    order = conversation.order
    return ConversationOut(
        id=conversation.pk,
        buyer_name=conversation.buyer.user.name,
        buyer_relay_address=relay,
        order_id=order.order_id if order else "",
        asin=conversation.asin,
        items=[
            OrderItemOut(asin=i.asin, title=i.title, quantity=i.quantity) for i in order.items.order_by("id")
        ]
        if order
        else [],
        messages=[message_out(m) for m in shown],
        earlier_messages=earlier,
    )


@router.post(
    "/conversations/{conversation_id}/replies",
    response={201: MessageOut, **ERRORS},
    openapi_extra=_request_body(ReplyIn),
)
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Answer the buyer (JSON, or multipart with ``files``). 422 ``guidelines_blocked`` with the
    findings when the text breaks the communication guidelines: the message is kept as blocked
    and not delivered. With an ``Idempotency-Key`` header a retry never sends twice."""
    user = needs(request, "write")
    conversation = _conversation(request, conversation_id)

    def send() -> idempotency.Answer:
        body, files = _body(request, ReplyIn)
        try:
            sent = compose.seller_reply(
                user, conversation, body.text, files=files, channel=Message.Channel.API
            )
        except FormProblem as error:
            raise _form_problem(error) from error
        assert sent is not None
        return _sent(sent)

    return idempotency.once(request, token_of(request), send)


@router.post(
    "/orders/{order_id}/messages",
    response={201: MessageOut, **ERRORS},
    openapi_extra=_request_body(OrderMessageIn),
)
def contact_buyer(request: HttpRequest, order_id: str) -> HttpResponse:
    """Write to the buyer of an order (Contact buyer). ``reason`` is delivery, cannot_ship,
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

    def send() -> idempotency.Answer:
        body, files = _body(request, OrderMessageIn)
        try:
            sent = compose.contact_buyer(
                user, order, body.subject, body.text, files, reason=body.reason, channel=Message.Channel.API
            )
        except FormProblem as error:
            raise _form_problem(error) from error
        return _sent(sent)

    return idempotency.once(request, token_of(request), send)


@router.post("/messages/{message_id}/no-reply-needed", response={200: MarkedOut, **ERRORS})
def mark_message(request: HttpRequest, message_id: int) -> MarkedOut:
    """Mark one buyer message as needing no reply; ``marked`` is 0 when it was answered or marked."""
    user = needs(request, "write")
    found = Message.objects.filter(pk=message_id, seller=shop_of(user), author=Message.Author.BUYER).first()
    if found is None:
        raise not_found("buyer message")
    return MarkedOut(marked=int(compose.mark_no_reply_needed(found, user)))


@router.post("/conversations/{conversation_id}/no-reply-needed", response={200: MarkedOut, **ERRORS})
def mark_conversation(request: HttpRequest, conversation_id: int) -> MarkedOut:
    """Mark every buyer message still waiting in the conversation as needing no reply."""
    user = needs(request, "write")
    conversation = _conversation(request, conversation_id)
    return MarkedOut(marked=compose.mark_conversation_no_reply_needed(conversation, user))


@router.get("/attachments/{attachment_id}", response={200: None, **ERRORS})
def download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """The file, as a download; removed files and other shops' files are 404."""
    seller = shop_of(needs(request, "read"))
    found = Attachment.objects.filter(
        pk=attachment_id, removed_at__isnull=True, message__seller=seller
    ).first()
    if found is None or not found.file:
        raise not_found("file")
    try:
        handle = stored.opened(found)
    except BlobMissing as error:
        raise not_found("file") from error
    return FileResponse(handle, as_attachment=True, filename=found.filename, content_type=found.content_type)


@router.post("/guidelines/check", response={200: CheckOut, **ERRORS}, tags=["guidelines"])
def check_guidelines(request: HttpRequest, draft: CheckIn) -> CheckOut:
    """Dry run: what the communication guidelines would find in a draft, without sending anything.
    With ``conversation_id``, words the buyer wrote first in that conversation are excused, exactly
    as when the message is sent."""
    needs(request, "read")
    conversation = _conversation(request, draft.conversation_id) if draft.conversation_id else None
    verdict = screening.check_draft(draft.text, draft.html, conversation)
    return CheckOut(
        blocked=verdict.blocked,
        findings=[FindingOut.model_validate(f, from_attributes=True) for f in verdict.findings],
    )
