"""What the API reads and writes, as pydantic schemas (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field

from marketmsg.apikit.problems import FindingOut


class CheckIn(Schema):
    text: str = Field(max_length=20_000)
    html: str = Field("", max_length=200_000)
    conversation_id: int | None = None


class CheckOut(Schema):
    blocked: bool
    findings: list[FindingOut]


class ReplyIn(Schema):
    text: str = Field(max_length=20_000)


class OrderMessageIn(Schema):
    text: str = Field(max_length=20_000)
    subject: str = Field("", max_length=200)
    reason: str = "other"


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    removed: bool
    removed_reason: str
    url: str | None


class MessageOut(Schema):
    id: int
    conversation_id: int
    author: str
    channel: str
    state: str
    subject: str
    text: str
    needs_reply: bool
    no_reply_needed: bool
    has_attachments: bool
    blocked_rules: list[str]
    attachments: list[AttachmentOut]
    created_at: datetime
    # What became of the mail (delivered / sending / retrying / failed; '' when no mail was sent).
    delivery: str = ""
    next_attempt_at: datetime | None = None


class ListedMessageOut(Schema):
    """A row of the Received or Sent list, as on the web: no body."""

    id: int
    conversation_id: int
    author: str
    state: str
    subject: str
    buyer_name: str
    order_id: str
    asins: list[str]
    needs_reply: bool
    no_reply_needed: bool
    has_attachments: bool
    created_at: datetime
    # What became of the mail (delivered / sending / retrying / failed; '' when no mail was sent).
    delivery: str = ""
    next_attempt_at: datetime | None = None


class MessagePage(Schema):
    items: list[ListedMessageOut]
    next_cursor: str | None
    notes: list[str]


class OrderItemOut(Schema):
    asin: str
    title: str
    quantity: int


class ConversationOut(Schema):
    id: int
    buyer_name: str
    buyer_relay_address: str
    order_id: str
    asin: str
    items: list[OrderItemOut]
    messages: list[MessageOut]
    earlier_messages: bool


class MarkedOut(Schema):
    marked: int


class TemplateIn(Schema):
    name: str = Field(max_length=100)
    text: str = Field(max_length=20_000)


class TemplateOut(Schema):
    id: int
    name: str
    text: str
    updated_at: datetime


class SenderAddressOut(Schema):
    id: int
    email: str
    state: str
    is_shared: bool
    updated_at: datetime


class MetricsOut(Schema):
    days: int
    on_time: int
    late: int
    answered_late: int
    overdue: int
    unanswered: int
    share_on_time: float | None
    share_late: float | None
    average_response_seconds: float | None
    median_response_seconds: int | None
