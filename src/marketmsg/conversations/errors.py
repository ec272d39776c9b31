"""Why the pipeline refuses a message. The edges map these to SMTP replies, form or API errors."""

from __future__ import annotations

from enum import Enum

from django.utils.functional import Promise


class Refusal(Enum):
    SENDER_BLOCKED = "sender_blocked"
    SENDER_NOT_BUYER = "sender_not_buyer"
    NO_SENDER = "no_sender"
    LOOP = "loop"
    UNKNOWN_RECIPIENT = "unknown_recipient"
    # Attachment rules (SPEC F7); the detail names the file and what it really is.
    ATTACHMENTS_TOO_LARGE = "attachments_too_large"
    ATTACHMENT_TYPE_NOT_ALLOWED = "attachment_type_not_allowed"
    ATTACHMENT_NAME_DISAGREES = "attachment_name_disagrees"
    ATTACHMENT_UNREADABLE = "attachment_unreadable"


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
