"""Why the pipeline refuses a message. The edges map these to SMTP replies, form or API errors."""

from __future__ import annotations

from enum import Enum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from marketmsg.policy.guidelines import Finding


class Refusal(Enum):
    SENDER_BLOCKED = "sender_blocked"
    SENDER_NOT_BUYER = "sender_not_buyer"
    # The buyer wrote to their own relay address (how the seller sees them), not the seller's.
    SENDER_IS_THE_BUYER = "sender_is_the_buyer"
    NO_SENDER = "no_sender"
    LOOP = "loop"
    UNKNOWN_RECIPIENT = "unknown_recipient"
    # Attachment rules (SPEC F7); the detail names the file and what it really is.
    ATTACHMENTS_TOO_LARGE = "attachments_too_large"
    ATTACHMENT_TYPE_NOT_ALLOWED = "attachment_type_not_allowed"
    ATTACHMENT_NAME_DISAGREES = "attachment_name_disagrees"
    ATTACHMENT_UNREADABLE = "attachment_unreadable"
    TOO_MANY_PARTS = "too_many_parts"


class Refused(Exception):
    """The sender must act: the message was not stored and will not be delivered."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail


class FormProblem(Exception):
    """What is wrong with what a user typed on the web, and which field it concerns."""

    def __init__(self, field: str, text: Promise | str) -> None:
        super().__init__(str(text))
        self.field = field
        self.text = text


class GuidelinesProblem(FormProblem):
    """A seller's web message was blocked (SPEC F10): it is kept for staff and delivered to nobody.
    The form shows the findings and keeps the draft, so the seller can fix it and send again."""

    def __init__(self, findings: tuple[Finding, ...], opted_out: bool, blocked_id: int | None = None) -> None:
        if opted_out and findings:
            text = _(
                "Not sent: this buyer receives only answers and messages about a problem with their "
                "order, and the message also breaks the communication guidelines. Choose the problem "
                "as the reason and change the highlighted words."
            )
        elif opted_out:
            text = _(
                "Not sent: this buyer has chosen to receive only answers and messages about a problem "
                "with their order. If there is a problem, choose it as the reason; otherwise wait for "
                "the buyer to write."
            )
        else:
            text = _(
                "Not sent: the message breaks the communication guidelines. Change the highlighted "
                "words and send again; your files stay attached."
            )
        super().__init__("reason" if opted_out and not findings else "text", text)
        self.findings = findings
        self.opted_out = opted_out
        self.blocked_id = blocked_id  # the stored, blocked message: its files go with the next try
