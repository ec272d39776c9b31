"""Marketplace staff: attachment review — remove a file judged inappropriate, with a reason (SPEC F7).

The file is deleted from storage; its row stays as a tombstone that both parties see ("removed by
the marketplace", with the reason), and records who removed it and when.
"""

from __future__ import annotations

import logging

from django.contrib import messages as notices
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketmsg.accounts.models import User
from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment, Message
from marketmsg.conversations.services import answer_as_marketplace
from marketmsg.staff import audit
from marketmsg.staff.models import CustomerServiceClosure
from marketmsg.web.access import for_role, user_of

log = logging.getLogger(__name__)
staff_only = for_role(User.Role.STAFF)
SHOWN = 100


@staff_only
def attachments(request: HttpRequest) -> HttpResponse:
    recent = Attachment.objects.select_related(
        "message__conversation__seller", "message__conversation__buyer__user", "removed_by"
    ).order_by("-created_at", "-pk")[:SHOWN]
    return render(
        request,
        "web/staff_attachments.html",
        {"attachments": recent, "review_reason": _("moderation review of attachments")},
    )


@staff_only
@require_POST
def remove_attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    found = Attachment.objects.filter(pk=attachment_id).first()
    if found is None:
        raise Http404("No such file.")
    reason = " ".join(request.POST.get("reason", "").split())[:500]
    if not reason:
        notices.error(request, _("Give a reason: both parties will see it in place of the file."))
        return redirect("staff-attachments")
    if found.removed_at is None:
        with transaction.atomic():
            stored.release([found.file.name])  # the blob goes once no other message names it
            found.file = ""  # type: ignore[assignment]
            found.removed_at, found.removed_by, found.removed_reason = (
                timezone.now(),
                user_of(request),
                reason,
            )
            found.save(update_fields=["file", "removed_at", "removed_by", "removed_reason"])
        log.info("attachment %d removed by staff user %d", found.pk, request.user.pk)
        audit.record(
            user_of(request),
            audit.Action.REMOVE_ATTACHMENT,
            conversation_id=found.message.conversation_id,
            message_id=found.message_id,
            attachment_id=found.pk,
            reason=reason,
        )
        notices.success(request, _("The file was removed; both parties now see why."))
    return redirect("staff-attachments")


@staff_only
def customer_service(request: HttpRequest) -> HttpResponse:
    """Buyer messages that marketplace customer service answers (SPEC F9): open items first."""
    closed = request.GET.get("closed") == "1"
    queue = (
        Message.objects.filter(state=Message.State.CUSTOMER_SERVICE, cs_closure__isnull=not closed)
        .select_related(
            "conversation__buyer__user",
            "conversation__seller",
            "conversation__order",
            "cs_closure__closed_by",
        )
        .order_by("created_at" if not closed else "-created_at", "pk")[:SHOWN]
    )
    return render(request, "web/staff_customer_service.html", {"queue": queue, "closed": closed})


@staff_only
@require_POST
def answer_customer(request: HttpRequest, message_id: int) -> HttpResponse:
    """Answer a queued buyer message as the marketplace, through the same pipeline, and close it;
    or close it without an answer."""
    item = Message.objects.filter(pk=message_id, state=Message.State.CUSTOMER_SERVICE).first()
    if item is None:
        raise Http404("No such customer-service item.")
    if CustomerServiceClosure.objects.filter(message=item).exists():
        notices.error(request, _("This item was already closed."))
        return redirect("staff-customer-service")
    text = request.POST.get("text", "").strip()
    staff = user_of(request)
    if request.POST.get("action") == "close":
        with transaction.atomic():
            CustomerServiceClosure.objects.create(message=item, closed_by=staff)
            audit.record(
                staff, audit.Action.CLOSE_CUSTOMER, conversation_id=item.conversation_id, message_id=item.pk
            )
        notices.success(request, _("Closed without an answer."))
        return redirect("staff-customer-service")
    if not text:
        notices.error(request, _("Write the answer first."))
        return redirect("staff-customer-service")
    with transaction.atomic():
        answer = answer_as_marketplace(item, text, staff)
        CustomerServiceClosure.objects.create(message=item, closed_by=staff, answer=answer)
        audit.record(
            staff, audit.Action.ANSWER_CUSTOMER, conversation_id=item.conversation_id, message_id=item.pk
        )
    notices.success(request, _("The buyer gets your answer from marketplace customer service."))
    return redirect("staff-customer-service")
