"""The alternate-address lists (代替アドレスの管理, SPEC F8): which addresses may write to buyers
for a seller account. Approved, blocked, or unknown (its mail is held until the owner decides).

Only the account owner changes the lists; every change is kept (SenderAddressChange) and nothing
is ever deleted. Approving releases the held mail in its original order; blocking withholds it
for good and tells the sender once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count

from marketmsg.accounts.models import SellerAccount, SellerUser, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.models import SenderAddress
from marketmsg.conversations import services as conversations
from marketmsg.conversations.models import Message

State = SenderAddress.State
LIST_NAMES = {
    State.APPROVED: "承認済みの送信者 / Approved senders",
    State.BLOCKED: "ブロックした送信者 / Blocked senders",
    State.UNKNOWN: "不明な送信者 / Unknown senders",
}


class ListProblem(Exception):
    """A change the lists refuse, with a sentence for the owner in Japanese and English."""


@dataclass(frozen=True)
class Moved:
    sender: SenderAddress
    released: int = 0  # held messages sent on (approve)
    withheld: int = 0  # held messages never to be delivered (block)


def owner_only(account: SellerAccount, user: User) -> None:
    if not SellerUser.objects.filter(account=account, user=user, is_owner=True).exists():
        raise ListProblem(
            "送信者リストを変更できるのはアカウントの所有者だけです。所有者に依頼してください。 / "
            "Only the account owner can change the sender lists. Ask the owner to do it."
        )


def add(account: SellerAccount, email: str, state: str, by: User, shared: bool = False) -> Moved:
    """Put a new address straight on the Approved or Blocked list."""
    owner_only(account, by)
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ListProblem(
            f"「{email or '（空欄）'}」はメールアドレスの形ではありません。例: support@shop.example / "
            f"“{email or '(empty)'}” is not an e-mail address. For example: support@shop.example"
        ) from None
    if state not in (State.APPROVED, State.BLOCKED):
        raise ListProblem("追加先のリストを選んでください。 / Choose the list to add the address to.")
    existing = SenderAddress.objects.filter(account=account, email=email).first()
    if existing is not None:
        ja, en = LIST_NAMES[State(existing.state)].split(" / ")
        raise ListProblem(
            f"{email} はすでに「{ja}」にあります。"
            "移すときはチェックを付けて承認かブロックを押してください。 / "
            f"{email} is already on {en}. To move it, tick it and press Approve or Block."
        )
    moved = move(account, [email], state, by)[0]
    if shared != moved.sender.is_shared:
        moved.sender.is_shared = shared
        moved.sender.save(update_fields=["is_shared"])
    return moved


def move(account: SellerAccount, emails: Iterable[str], state: str, by: User) -> list[Moved]:
    """Approve or block addresses (new ones are created); held mail follows the decision."""
    owner_only(account, by)
    if state not in (State.APPROVED, State.BLOCKED):
        raise ListProblem("承認かブロックを選んでください。 / Choose Approve or Block.")
    done = []
    for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
        with transaction.atomic():
            sender = addresses.set_sender_state(account, email, state, by=by)
            if state == State.APPROVED:
                done.append(Moved(sender, released=conversations.release_held(account, email)))
            else:
                withheld = conversations.withhold_held(account, email)
                if withheld:
                    _tell_blocked_sender(withheld, email)
                done.append(Moved(sender, withheld=len(withheld)))
    return done


def _tell_blocked_sender(withheld: list[Message], email: str) -> None:
    """One notice per block, to the blocked address itself (it wrote to us; it learns nothing
    new about the buyer): how many messages were not delivered and what to do."""
    count = len(withheld)
    conversations.post_notice(
        withheld[0],
        "【配信されませんでした】送信者がブロックされました / Not delivered: sender blocked",
        f"このアドレスから購入者あてに送られた {count} 件のメッセージは配信されませんでした。"
        "出品者アカウントの所有者がこのアドレスをブロックしたためです。\n"
        "購入者に連絡するときは、承認済みのアドレスから送るか、所有者に承認を依頼してください。\n\n"
        f"{count} message(s) sent from this address to buyers were not delivered, because the "
        "seller account's owner blocked this address.\n"
        "To write to buyers, send from an approved address, or ask the owner to approve this one.\n",
        to=email,
    )


def lists(account: SellerAccount) -> dict[str, list[SenderAddress]]:
    """The three lists, each sender with ``held`` (its messages waiting for a decision)."""
    held = dict(
        Message.objects.filter(seller=account, state=Message.State.HELD)
        .values("sender_email")
        .annotate(n=Count("id"))
        .values_list("sender_email", "n")
    )
    out: dict[str, list[SenderAddress]] = {state.value: [] for state in State}
    for sender in SenderAddress.objects.filter(account=account).order_by("email"):
        sender.held = held.get(sender.email, 0)  # type: ignore[attr-defined]
        out[sender.state].append(sender)
    return out


def pending_count(account_id: int) -> int:
    """Addresses waiting for the owner's decision: the banner on every message-center page."""
    return SenderAddress.objects.filter(account_id=account_id, state=State.UNKNOWN).count()
