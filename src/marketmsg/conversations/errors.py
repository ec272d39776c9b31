"""Why the pipeline refuses a message. The edges map these to SMTP replies, form or API errors."""

from __future__ import annotations

from enum import Enum


class Refusal(Enum):
    SENDER_BLOCKED = "sender_blocked"
    SENDER_NOT_BUYER = "sender_not_buyer"
    NO_SENDER = "no_sender"
    LOOP = "loop"
    UNKNOWN_RECIPIENT = "unknown_recipient"


class Refused(Exception):
    """The sender must act: the message was not stored and will not be delivered."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail
