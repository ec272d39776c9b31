"""Erasure on request through the operator API (scope ``erasure``; retention.erasure does it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from marketmsg.accounts.models import Buyer, User
from marketmsg.apikit.problems import Problem
from marketmsg.integration.auth import needs
from marketmsg.integration.schemas import ERRORS, ProblemOut
from marketmsg.retention import erasure
from marketmsg.retention.models import Erasure

router = Router(tags=["erasure"])


class ErasureIn(Schema):
    reference: str = ""  # the request's ticket in the marketplace's own system


class ErasureOut(Schema):
    erasure_id: int
    kind: str
    erased_at: str
    messages_redacted: int
    raw_mime_removed: int
    attachments_removed: int
    relay_addresses_stopped: int
    conversations_resealed: int


def _answer(done: Erasure) -> dict[str, Any]:
    return {
        "erasure_id": done.pk,
        "kind": done.kind,
        "erased_at": done.erased_at.isoformat(),
        "messages_redacted": done.messages_redacted,
        "raw_mime_removed": done.raw_mime_removed,
        "attachments_removed": done.attachments_removed,
        "relay_addresses_stopped": done.relay_addresses_stopped,
        "conversations_resealed": done.conversations_resealed,
    }


def _already(error: erasure.AlreadyErased) -> Problem:
    return Problem(409, "already_erased", "Already erased", f"{error}. Nothing more to do.")


@router.post(
    "/buyers/{external_id}/erasure",
    response={200: ErasureOut, 409: ProblemOut, **ERRORS},
    summary="Erase a buyer",
)
def erase_buyer(request: HttpRequest, external_id: str, body: ErasureIn) -> dict[str, Any]:
    """Erase a buyer on their request: their address, name and what they wrote are removed,
    their relay addresses stop working, their conversations stay verifiable (redacted messages
    keep their digest). Cannot be undone; the same external_id is refused by later upserts."""
    credential = needs(request, "erasure")
    buyer = Buyer.objects.filter(external_id=external_id).first()
    if buyer is None:
        raise Problem(404, "not_found", "Not found", f"No buyer {external_id!r}.")
    try:
        return _answer(erasure.erase_buyer(buyer, f"operator credential {credential.name}", body.reference))
    except erasure.AlreadyErased as error:
        raise _already(error) from error


@router.post(
    "/sellers/{seller}/users/{external_id}/erasure",
    response={200: ErasureOut, 409: ProblemOut, **ERRORS},
    summary="Erase a seller's user",
)
def erase_seller_user(request: HttpRequest, seller: str, external_id: str, body: ErasureIn) -> dict[str, Any]:
    """Erase one of a shop's people (named by the user's `external_id`): their address and name go,
    their sender address is blocked, the messages they sent lose their address and raw MIME; what
    the shop wrote stays. Cannot be undone."""
    credential = needs(request, "erasure")
    user = User.objects.filter(
        external_id=external_id, seller_membership__account__external_id=seller
    ).first()
    if user is None:
        raise Problem(404, "not_found", "Not found", f"No user {external_id!r} in seller {seller!r}.")
    try:
        return _answer(
            erasure.erase_seller_user(user, f"operator credential {credential.name}", body.reference)
        )
    except erasure.AlreadyErased as error:
        raise _already(error) from error
