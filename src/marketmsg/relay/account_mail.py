"""Sending the queued account mail (accounts.AccountMail: password links, invitations) through
the smarthost, beside the relay's deliveries and on the same session, with the relay's retry
schedule. The text never goes to the log."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketmsg.accounts.models import AccountMail
from marketmsg.relay.sending import Outcome, SmtpSession, next_attempt_delay

log = logging.getLogger(__name__)


def render(mail: AccountMail) -> bytes:
    message = MimeMessage()
    message["From"] = settings.ACCOUNT_MAIL_FROM
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.RELAY_DOMAIN)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    return message.as_bytes(policy=SMTP)  # CRLF line ends: smtplib sends bytes as they are


def claim(owner: str, limit: int = 20) -> list[AccountMail]:
    now = timezone.now()
    with transaction.atomic():
        due = list(
            AccountMail.objects.filter(state=AccountMail.State.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        taken = AccountMail.objects.filter(pk__in=due).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        )
        taken.update(lease_owner=owner, lease_until=now + timedelta(seconds=settings.WORKER_LEASE_SECONDS))
    return list(AccountMail.objects.filter(pk__in=due, lease_owner=owner).order_by("id"))


def send_due(owner: str, session: SmtpSession) -> int:
    """Sends the account mail that is due; returns how many were tried."""
    claimed = claim(owner)
    for mail in claimed:
        result = session.send(settings.ACCOUNT_MAIL_FROM, mail.recipient, render(mail))
        now = timezone.now()
        fields = {"attempts": mail.attempts + 1, "last_reply": result.reply[:2000], "lease_owner": ""}
        if result.outcome == Outcome.DELIVERED:
            fields.update(state=AccountMail.State.DELIVERED, finished_at=now)
        else:
            delay = None if result.outcome == Outcome.PERMANENT else next_attempt_delay(mail.attempts + 1)
            if delay is None:
                fields.update(state=AccountMail.State.FAILED, finished_at=now)
            else:
                fields.update(next_attempt_at=now + timedelta(seconds=delay))
        AccountMail.objects.filter(pk=mail.pk, lease_owner=owner).update(lease_until=None, **fields)
        log.info("account mail %s (%s): %s", mail.pk, mail.kind, fields.get("state", "deferred"))
    return len(claimed)
