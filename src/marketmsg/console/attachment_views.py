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

from marketmsg.console import audit
from marketmsg.console.access import staff_only
from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment
from marketmsg.web.access import user_of

log = logging.getLogger(__name__)
SHOWN = 100


@staff_only
def attachments(request: HttpRequest) -> HttpResponse:
    recent = Attachment.objects.select_related(
        "message__conversation__seller", "message__conversation__buyer__user", "removed_by"
    ).order_by("-created_at", "-pk")[:SHOWN]
    return render(
        request,
        "console/attachments.html",
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
