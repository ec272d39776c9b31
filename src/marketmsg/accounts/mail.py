"""Account mail (password links, invitations): queued in AccountMail; the delivery worker sends
it (relay.account_mail).

``OutboxBackend`` is Django's e-mail backend here, so Django's own password-reset form queues its
mail like everything else. The text never goes to the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from marketmsg.accounts.models import AccountMail


def queue(kind: str, recipient: str, subject: str, text: str) -> AccountMail:
    return AccountMail.objects.create(kind=kind, recipient=recipient, subject=subject[:200], text=text)


class OutboxBackend(BaseEmailBackend):
    """Django's mail (the password-reset form's) into the account-mail queue."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            for recipient in message.recipients():
                queue("password_reset", recipient, str(message.subject), str(message.body))
        return len(email_messages)
