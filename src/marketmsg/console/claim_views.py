"""A-to-z guarantee claims (SPEC F11): staff open a claim for an order, read the whole record of
its conversations on the claim's page, and record a decision with a note. Every look and every
action goes into the audit log."""

from __future__ import annotations

from django.contrib import messages as notices
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketmsg.console import audit, timeline
from marketmsg.console.access import Grounds, staff_only
from marketmsg.conversations.models import Conversation
from marketmsg.orders.models import Claim, Order
from marketmsg.web.access import user_of
from marketmsg.webhooks import events

Action = audit.Action


@staff_only
def claims(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        order_id = request.POST.get("order_id", "").strip()
        order = Order.objects.filter(order_id=order_id).first()
        if order is None:
            notices.error(
                request,
                _("No order %(order)s. Check the order ID (e.g. 503-1234567-7654321).")
                % {"order": order_id or "—"},
            )
            return redirect("staff-claims")
        with transaction.atomic():
            claim = Claim.objects.create(order=order, opened_by=user_of(request))
            events.claim_opened(claim.pk, order.pk, order.seller_id)
            audit.record(user_of(request), Action.OPEN_CLAIM, claim=claim, detail=order.order_id)
        return redirect("staff-claim", claim_id=claim.pk)
    shown = Claim.objects.select_related("order__seller", "order__buyer__user", "opened_by").order_by(
        "-opened_at", "-pk"
    )[:200]
    return render(request, "console/claims.html", {"claims": shown})


@staff_only
def claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    found = (
        Claim.objects.select_related("order__seller", "order__buyer__user", "opened_by", "decided_by")
        .filter(pk=claim_id)
        .first()
    )
    if found is None:
        raise Http404("No such claim.")
    conversations = list(
        Conversation.objects.filter(order=found.order).select_related("seller", "buyer__user").order_by("id")
    )
    staff = user_of(request)
    records = []
    for conversation in conversations:
        audit.record(staff, Action.VIEW_CONVERSATION, claim=found, conversation_id=conversation.pk)
        entries = timeline.timeline(conversation)
        records.append(
            {"conversation": conversation, "entries": entries, "summary": timeline.summary(entries)}
        )
    return render(
        request,
        "console/claim.html",
        {
            "claim": found,
            "records": records,
            "grounds": Grounds(found, "").query(),
            "decisions": [c for c in Claim.Decision.choices if c[0] != Claim.Decision.OPEN],
        },
    )


@staff_only
@require_POST
def decide(request: HttpRequest, claim_id: int) -> HttpResponse:
    found = Claim.objects.filter(pk=claim_id).first()
    if found is None:
        raise Http404("No such claim.")
    decision = request.POST.get("decision", "")
    note = request.POST.get("note", "").strip()
    if decision not in Claim.Decision.values or decision == Claim.Decision.OPEN:
        notices.error(request, _("Choose a decision."))
    elif not note:
        notices.error(request, _("Write a note: what the record showed and why you decided so."))
    else:
        with transaction.atomic():
            found.decision, found.note = decision, note[:5000]
            found.decided_by, found.decided_at = user_of(request), timezone.now()
            found.save(update_fields=["decision", "note", "decided_by", "decided_at"])
            audit.record(user_of(request), Action.DECIDE_CLAIM, claim=found, detail=decision)
        notices.success(request, _("The decision is recorded."))
    return redirect("staff-claim", claim_id=claim_id)
