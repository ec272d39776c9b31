"""Bounces that come back to a VERP address update the delivery they belong to."""

from __future__ import annotations

import logging
from email.message import Message as MailMessage

from django.db import transaction
from django.utils import timezone

from marketmsg import observability
from marketmsg.delivery.models import Delivery, DeliveryAttempt
from marketmsg.mail.bounces import read_bounce
from marketmsg.relay.notices import notify_failure

log = logging.getLogger(__name__)


def record_bounce(delivery_id: int, mail: MailMessage) -> None:
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        return
    report = read_bounce(mail)
    if report is None or not report.permanent:
        return  # a delay warning: the remote side is still trying
    reply = f"{report.status} {report.diagnostic}".strip()
    DeliveryAttempt.objects.create(delivery=delivery, code=None, reply=reply, outcome="bounced")
    if delivery.state == Delivery.State.BOUNCED:
        return
    delivery.state = Delivery.State.BOUNCED
    delivery.last_reply = reply
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["state", "last_reply", "finished_at"])
    log.info("delivery %s bounced (%s)", delivery.pk, report.status)
    transaction.on_commit(observability.BOUNCES.inc)
    notify_failure(delivery)
