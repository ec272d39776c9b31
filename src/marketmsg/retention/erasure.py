"""Erasing a person on request (APPI / GDPR): their real address, name and message texts go,
their relay addresses stop working, and every conversation they were in stays verifiable (the
chain commits to digests; ADR 22). One transaction: all of it or none of it.

A buyer: the account's address and name become placeholders, sign-in ends, relay addresses are
switched off (mail to them is refused as unknown), everything the buyer wrote is redacted with
its raw MIME and files, the raw MIME of the rest of their conversations is removed (it carries the
buyer's name in headers and quotes), their name and address are replaced in what sellers and the
marketplace wrote to them, and the queues forget the address (pending mail to them is cancelled).

A seller's user: the same for the account; their sender address is blocked under a placeholder,
and the messages they sent lose their address and raw MIME. What the shop said stays: it is the
buyer's record of the shop, not the user's personal data.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketmsg.accounts.models import AccountMail, Buyer, User
from marketmsg.addresses.models import RelayAddress, SenderAddress
from marketmsg.conversations.models import Attachment, Message, RawMime
from marketmsg.delivery.models import Delivery, DeliveryAttempt
from marketmsg.retention import redaction
from marketmsg.retention.models import Erasure
from marketmsg.sso.models import SignInIdentity

BECAUSE = "erasure"
ERASED_NAME = "（削除済み）"


def placeholder_address(user: User) -> str:
    return f"erased-{user.pk}@erased.invalid"


class AlreadyErased(Exception):
    pass


def erase_buyer(buyer: Buyer, requested_by: str, reference: str = "") -> Erasure:
    with transaction.atomic():
        user, erasure = _begin(buyer.user_id, Erasure.Kind.BUYER, buyer.external_id, requested_by, reference)
        now = erasure.erased_at
        real, name = user.email.lower(), user.name
        for conversation_id in buyer.conversations.order_by("pk").values_list("pk", flat=True):
            erasure.conversations_resealed += redaction.reseal(conversation_id)
        in_their_conversations = Message.objects.filter(conversation__buyer=buyer)
        by_buyer = in_their_conversations.filter(author=Message.Author.BUYER)
        theirs = list(by_buyer.values_list("pk", flat=True))
        erasure.messages_redacted, _ = redaction.redact(theirs, BECAUSE, now)
        erasure.messages_redacted += _replace_in_others(in_their_conversations, real, name, now)
        others = list(in_their_conversations.exclude(pk__in=theirs).values_list("pk", flat=True))
        erasure.raw_mime_removed = redaction.remove_raw(others, BECAUSE, now) + _raw_removed(theirs)
        erasure.attachments_removed = _files_removed(theirs)
        erasure.relay_addresses_stopped = RelayAddress.objects.filter(buyer=buyer, is_active=True).update(
            is_active=False
        )
        _forget_address(user, real)
        _erase_account(user, now)
        erasure.save()
    return erasure


def erase_seller_user(user: User, requested_by: str, reference: str = "") -> Erasure:
    with transaction.atomic():
        user, erasure = _begin(user.pk, Erasure.Kind.SELLER_USER, user.external_id, requested_by, reference)
        now, real = erasure.erased_at, user.email.lower()
        sent = Message.objects.filter(Q(sender_email=real) | Q(sender_user=user))
        ids = list(sent.values_list("pk", flat=True))
        conversations = set(sent.values_list("conversation_id", flat=True))
        for conversation_id in sorted(conversations):
            erasure.conversations_resealed += redaction.reseal(conversation_id)
        erasure.raw_mime_removed = redaction.remove_raw(ids, BECAUSE, now)
        sent.filter(sender_email=real).update(sender_email="")
        redaction.mark_redacted(ids, BECAUSE, now)
        erasure.messages_redacted = len(ids)
        for address in SenderAddress.objects.filter(email__iexact=real):
            SenderAddress.objects.filter(pk=address.pk).update(
                email=placeholder_address(user), state=SenderAddress.State.BLOCKED, updated_at=now
            )
        _forget_address(user, real)
        _erase_account(user, now)
        erasure.save()
    return erasure


def _begin(
    user_id: int, kind: str, external_id: str | None, requested_by: str, reference: str
) -> tuple[User, Erasure]:
    """The person, locked against a second erasure at the same moment, and the record to fill."""
    user = User.objects.select_for_update().get(pk=user_id)
    if user.erased_at is not None:
        raise AlreadyErased(f"{kind} {external_id or user.pk} was erased on {user.erased_at:%Y-%m-%d}")
    record = Erasure(
        kind=kind,
        user_id_erased=user.pk,
        external_id=external_id or "",
        requested_by=requested_by[:200],
        reference=reference[:200],
        erased_at=timezone.now(),
    )
    return user, record


def _replace_in_others(messages: QuerySet[Message], real: str, name: str, now: datetime) -> int:
    """The buyer's address and name in what others wrote to them, replaced; such a message verifies
    as redacted from now on."""
    pattern = _pattern(real, name)
    changed: list[int] = []
    for message in messages.exclude(author=Message.Author.BUYER).only("pk", "subject", "text", "html"):
        fields = {f: pattern.sub(ERASED_NAME, getattr(message, f)) for f in ("subject", "text", "html")}
        if any(fields[f] != getattr(message, f) for f in fields):
            Message.objects.filter(pk=message.pk).update(**fields)
            changed.append(message.pk)
    redaction.mark_redacted(changed, BECAUSE, now)
    return len(changed)


def _pattern(real: str, name: str) -> re.Pattern[str]:
    words = [re.escape(real)]
    name = " ".join(name.split())
    if len(name) >= 2:
        words.append(r"\s*".join(re.escape(part) for part in name.split()))  # 山田 太郎 / 山田太郎
        words += [re.escape(part) for part in name.split() if len(part) >= 2]
    return re.compile("|".join(sorted(words, key=len, reverse=True)), re.IGNORECASE)


def _raw_removed(ids: list[int]) -> int:
    return RawMime.objects.filter(message_id__in=ids, removed_reason=BECAUSE).count()


def _files_removed(ids: list[int]) -> int:
    return Attachment.objects.filter(message_id__in=ids, removed_reason=BECAUSE).count()


def _forget_address(user: User, real: str) -> None:
    """Queues and logs keep no trace of the address: pending mail to it is cancelled."""
    placeholder = placeholder_address(user)
    to_them = Delivery.objects.filter(recipient__iexact=real)
    to_them.filter(state__in=[*Delivery.OPEN_STATES, Delivery.State.HELD]).update(
        state=Delivery.State.CANCELLED, finished_at=timezone.now()
    )
    DeliveryAttempt.objects.filter(delivery__in=to_them).update(reply="")
    to_them.update(recipient=placeholder, last_reply="")
    AccountMail.objects.filter(recipient__iexact=real).update(
        recipient=placeholder, text="", last_reply="", state=AccountMail.State.FAILED
    )


def _erase_account(user: User, now: datetime) -> None:
    user.email = placeholder_address(user)
    user.name = ERASED_NAME
    user.set_unusable_password()
    user.is_active = False
    user.erased_at = now
    user.save(update_fields=["email", "name", "password", "is_active", "erased_at"])
    SignInIdentity.objects.filter(user=user).delete()
