"""Telling a subscription's contact that it was disabled, by mail through the smarthost."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from django.conf import settings

from marketmsg.webhooks.models import Subscription

log = logging.getLogger(__name__)


def tell_disabled(subscription: Subscription) -> None:
    log.warning(
        "webhook subscription %s disabled: %s",
        subscription.pk,
        subscription.disabled_reason,
        extra={"subscription_id": subscription.pk},
    )
    if not subscription.contact_email:
        return
    mail = EmailMessage()
    mail["From"] = f"marketmsg <no-reply@{settings.RELAY_DOMAIN}>"
    mail["To"] = subscription.contact_email
    mail["Subject"] = f"Webhook 「{subscription.name}」 を停止しました / Webhook disabled"
    mail.set_content(
        f"Webhook の送信先 {subscription.url} への配信が失敗し続けたため、購読を停止しました。\n"
        f"理由: {subscription.disabled_reason}\n"
        "受信側を直したあと、管理画面（/admin/ の Webhook 購読）または運営者 API で再開してください。"
        "未配信のイベントは保持されており、再開後に順番どおり送信されます。\n\n"
        f"Deliveries to {subscription.url} kept failing, so the subscription was disabled.\n"
        f"Reason: {subscription.disabled_reason}\n"
        "Fix the receiver, then enable it again in the admin (/admin/, Webhook subscriptions) or "
        "through the operator API. Undelivered events are kept and are sent, in order, once it is enabled.\n"
    )
    host, port = settings.SMARTHOST
    try:
        with smtplib.SMTP(host, port, timeout=settings.SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException):
        log.exception("could not mail the notice that webhook subscription %s was disabled", subscription.pk)
