"""A conversation's record, its raw messages and its files, for staff (SPEC F11). Each needs
grounds (a claim on the conversation's order, or a stated reason) and each look is audited."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from marketmsg.console import audit, timeline
from marketmsg.console.access import MIN_REASON, Grounds, grounds_for, staff_only
from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment, Conversation, Message
from marketmsg.orders.models import Claim
from marketmsg.web.access import user_of
from marketmsg.web.file_views import opened_or_404

Action = audit.Action


def _conversation(conversation_id: int) -> Conversation:
    found = (
        Conversation.objects.select_related("seller", "buyer__user", "order")
        .filter(pk=conversation_id)
        .first()
    )
    if found is None:
        raise Http404("No such conversation.")
    return found


def _ask_for_grounds(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """Nothing of the conversation is shown: only who it is between and a form for the grounds."""
    open_claims = (
        list(Claim.objects.filter(order_id=conversation.order_id, decision=Claim.Decision.OPEN))
        if conversation.order_id is not None
        else []
    )
    given = request.GET.get("reason", "")
    return render(
        request,
        "console/grounds.html",
        {
            "conversation": conversation,
            "claims": open_claims,
            "short": bool(given.strip()),
            "min_reason": MIN_REASON,
        },
        status=403,
    )


@staff_only
def conversation_record(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(conversation_id)
    grounds = grounds_for(request, conversation)
    if grounds is None:
        return _ask_for_grounds(request, conversation)
    audit.record(
        user_of(request),
        Action.VIEW_CONVERSATION,
        claim=grounds.claim,
        reason=grounds.reason,
        conversation_id=conversation.pk,
    )
    entries = timeline.timeline(conversation)
    return render(
        request,
        "console/record.html",
        {
            "conversation": conversation,
            "entries": entries,
            "summary": timeline.summary(entries),
            "grounds": grounds.query(),
            "claim": grounds.claim,
            "reason": grounds.reason,
        },
    )


def _grounds_or_404(request: HttpRequest, conversation: Conversation) -> Grounds:
    grounds = grounds_for(request, conversation)
    if grounds is None:
        raise Http404("Give a claim or a reason on the conversation's page first.")
    return grounds


@staff_only
def raw_message(request: HttpRequest, message_id: int) -> StreamingHttpResponse:
    message = Message.objects.filter(pk=message_id).select_related("conversation").first()
    raw = stored.raw_row(message_id)
    if message is None or raw is None:
        raise Http404("No raw message: it was written on the web or through the API.")
    if raw.removed_at is not None:
        raise Http404(f"The raw message was removed ({raw.removed_reason}, {raw.removed_at:%Y-%m-%d}).")
    grounds = _grounds_or_404(request, message.conversation)
    audit.record(
        user_of(request),
        Action.VIEW_RAW,
        claim=grounds.claim,
        reason=grounds.reason,
        conversation_id=message.conversation_id,
        message_id=message.pk,
    )
    # Streamed from the blob store: a 14 MB mail is not held whole in memory.
    response = StreamingHttpResponse(stored.raw_chunks(raw), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="message-{message.pk}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@staff_only
def attachment_file(request: HttpRequest, attachment_id: int) -> FileResponse:
    found = Attachment.objects.filter(pk=attachment_id).select_related("message__conversation").first()
    if found is None or found.removed_at is not None or not found.file:
        raise Http404("No such file (it may have been removed).")
    grounds = _grounds_or_404(request, found.message.conversation)
    audit.record(
        user_of(request),
        Action.VIEW_ATTACHMENT,
        claim=grounds.claim,
        reason=grounds.reason,
        conversation_id=found.message.conversation_id,
        message_id=found.message_id,
        attachment_id=found.pk,
    )
    return FileResponse(opened_or_404(found), as_attachment=True, filename=found.filename)
