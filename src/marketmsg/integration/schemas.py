"""What the operator API reads and writes (pydantic schemas, for validation and the OpenAPI
document). Records inside a batch are checked by integration.records, one by one, so that one bad
record is refused alone instead of failing the whole request."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from marketmsg.apikit.problems import ProblemOut

# Every error is RFC 9457 problem+json (api.problems), as in the seller API.
ERRORS: dict[int, Any] = {status: ProblemOut for status in (401, 403, 404, 413, 422, 429)}


class BatchIn(Schema):
    records: list[Any] = Field(description="The records, as described above; at most 5,000.")


class RecordError(Schema):
    field: str
    message: str


class RecordResult(Schema):
    key: str = Field(description="The record's key as sent (external_id, order_id or product_id).")
    result: Literal["created", "updated", "unchanged", "refused"]
    id: int | None = Field(None, description="marketmsg's own ID of the record.")
    errors: list[RecordError] = []


class BatchCounts(Schema):
    created: int
    updated: int
    unchanged: int
    refused: int


class BatchOut(Schema):
    counts: BatchCounts
    results: list[RecordResult] = Field(description="One per record, in the order sent.")


class NoticeIn(Schema):
    kind: Literal["notice", "customer_service"] = "notice"
    to: Literal["buyer", "seller"] = "buyer"
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=20_000)


class NoticeOut(Schema):
    message_id: int
    conversation_id: int
    created_at: datetime


class SubscriptionIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000, description="An http:// or https:// URL.")
    events: list[str] = Field([], description="Event types; empty for every event.")
    include_bodies: bool = False
    contact_email: str = Field("", max_length=254, description="Told by mail when it is disabled.")


class SubscriptionPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=2000)
    events: list[str] | None = None
    include_bodies: bool | None = None
    contact_email: str | None = Field(None, max_length=254)
    state: Literal["active", "disabled"] | None = None


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    include_bodies: bool
    contact_email: str
    state: str
    disabled_at: datetime | None
    disabled_reason: str
    failing_since: datetime | None
    created_at: datetime
    pending: int = Field(description="Deliveries still to be made.")


class SecretOut(Schema):
    id: int
    secret: str = Field(description="The signing secret (whsec_…). Shown here only.")
    previous_valid_until: datetime | None = Field(
        None, description="Deliveries carry a signature with the old secret too until then."
    )


class AttemptOut(Schema):
    at: datetime
    status: int | None
    error: str
    milliseconds: int


class DeliveryOut(Schema):
    id: int
    event_id: str
    type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    last_error: str
    history: list[AttemptOut] = []


def subscription_out(subscription: Any, pending: int) -> dict[str, Any]:
    return {
        "id": subscription.pk,
        "name": subscription.name,
        "url": subscription.url,
        "events": subscription.events.split(),
        "include_bodies": subscription.include_bodies,
        "contact_email": subscription.contact_email,
        "state": subscription.state,
        "disabled_at": subscription.disabled_at,
        "disabled_reason": subscription.disabled_reason,
        "failing_since": subscription.failing_since,
        "created_at": subscription.created_at,
        "pending": pending,
    }
