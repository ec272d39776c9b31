"""Marketplace staff: the customer-service queue — buyer messages routed to the marketplace, and
the answers staff write to them (SPEC F7)."""

from __future__ import annotations

from django.contrib import messages as notices
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketmsg.console import audit
from marketmsg.console.access import staff_only
from marketmsg.console.models import CustomerServiceClosure
from marketmsg.conversations.models import Message
from marketmsg.conversations.services import answer_as_marketplace
from marketmsg.web.access import user_of

SHOWN = 100  # the queue page lists at most this many items


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
    return render(request, "console/customer_service.html", {"queue": queue, "closed": closed})


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
