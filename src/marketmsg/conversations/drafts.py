"""A message on its way in (``Draft``), and what is decided about it before it is stored.

Every channel — mail, web, API, the marketplace's own notices — builds a Draft and hands it to
``services.post_message``. What the message needs decided is decided here, once, the same way for
every channel (``prepare``):

- scrub — each real address of either party in the subject and the texts becomes that party's
  relay address, by one function and one map for every channel;
- route — a buyer's message about an FBA order goes to marketplace customer service (routing);
- screen — a seller's message is checked against the communication guidelines (screening).

Mail is scrubbed before it is screened: the guidelines read what the buyer will read, so that a
seller's own address in a mail signature is the relay's to replace, not a breach. A web or API
message is screened as the person typed it — they are told at once, in the form or the 422, that
an address does not belong there — and scrubbed after, so that what is stored and delivered never
carries a real address whatever the guidelines allowed (a rule set to "warn", an unusual spelling).

``prepare`` is safe to call twice; post_message calls it itself, and the mail and web channels call
it earlier, outside the write transaction, so that the guideline check (milliseconds of CPU) never
runs while the database's write lock is held (ADR 7).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from marketmsg.accounts.models import Buyer, SellerAccount, User
from marketmsg.addresses import services as addresses
from marketmsg.addresses.services import RelayPair
from marketmsg.conversations import routing, screening
from marketmsg.conversations.models import Conversation, Message
from marketmsg.conversations.screening import Screening
from marketmsg.conversations.uploads import StoredFile
from marketmsg.mail import scrub
from marketmsg.orders.models import Order

Author = Message.Author


@dataclass
class Received:
    """What only a mail brings."""

    raw: bytes
    # The raw MIME's name in the blob store, written before the transaction (stored.put_raw);
    # post_message writes it itself when it is empty.
    raw_blob: str = ""
    message_id: str = ""  # the mail's own Message-ID
    # What SPF, DKIM and DMARC said about the sender (mailauth.inbound.Verdict).
    authentication: dict[str, Any] = field(default_factory=dict)
    # Every other text the recipient will read (further text parts, text/enriched, a forwarded
    # mail, .txt files), and the HTML as received (before images were stripped), so that the
    # guidelines read all of it.
    other_texts: tuple[str, ...] = ()
    html_as_received: str = ""


@dataclass
class Decisions:
    """What ``prepare`` decided. ``customer_service`` may be given beforehand: True for mail to
    customer service's own address, which an auto-reply to its answer also reaches."""

    prepared: bool = False
    replacements: dict[str, str] | None = None
    customer_service: bool | None = None
    screening: Screening | None = None


@dataclass
class Draft:
    seller: SellerAccount
    buyer: Buyer
    author: str
    channel: str
    subject: str
    text: str
    html: str = ""
    sender_email: str = ""
    sender_user: User | None = None
    order: Order | None = None
    asin: str = ""
    conversation: Conversation | None = None  # None: the message starts one
    parent: Message | None = None
    has_attachments: bool = False
    is_auto: bool = False
    # Only for the marketplace's own notices, which go to one particular address.
    recipients: list[str] | None = None
    # Files that came with the message, checked and already written to storage (uploads.store).
    files: list[StoredFile] = field(default_factory=list)
    # Why a seller starts a conversation (screening.REASONS); an order problem passes an opt-out.
    reason: str = ""
    # A buyer's topic (compose.TOPICS); a mail has none, its words decide (routing.topic_of).
    topic: str = ""
    mail: Received | None = None
    decided: Decisions = field(default_factory=Decisions)


def replacements(draft: Draft, pair: RelayPair | None = None) -> dict[str, str]:
    """Each real address of either party → that party's relay address, for the texts and the files
    of ``draft``. A seller's own sending address (or signed-in user's) counts as the seller's.
    ``pair``: the relay pair, when the channel has it loaded already."""
    if draft.decided.replacements is None:
        pair = pair or addresses.relay_pair(draft.buyer, draft.seller)
        own: set[str] = set()
        if draft.author == Author.SELLER:
            own = {a.lower() for a in (draft.sender_email, getattr(draft.sender_user, "email", "")) if a}
        draft.decided.replacements = addresses.replacement_map(pair, extra_seller=own)
    return draft.decided.replacements


def prepare(draft: Draft) -> Draft:
    """Scrub, route and screen ``draft`` (see the module's text); once."""
    if draft.decided.prepared:
        return draft
    by_mail = draft.channel == Message.Channel.MAIL
    if by_mail:
        _scrub(draft)
    _route(draft)
    if draft.author == Author.SELLER:
        draft.decided.screening = screening.screen(draft, draft.conversation)
    if not by_mail:
        _scrub(draft)
    draft.decided.prepared = True
    return draft


def _scrub(draft: Draft) -> None:
    mapping = replacements(draft)
    draft.subject = scrub.scrub_text(draft.subject, mapping)
    draft.text = scrub.scrub_text(draft.text, mapping)
    if draft.html:
        draft.html = scrub.scrub_html(draft.html, mapping)
    if draft.decided.screening is not None:  # what will be stored: the guidelines' copy
        found = draft.decided.screening
        html = scrub.scrub_html(found.html, mapping) if found.html else ""
        draft.decided.screening = replace(found, text=scrub.scrub_text(found.text, mapping), html=html)
    if draft.mail is not None:
        # Screened as the recipient will read them: with the real addresses already replaced.
        draft.mail.other_texts = tuple(scrub.scrub_text(t, mapping) for t in draft.mail.other_texts)
        draft.mail.html_as_received = scrub.scrub_text(draft.mail.html_as_received, mapping)


def _route(draft: Draft) -> None:
    if draft.author != Author.BUYER or draft.is_auto or draft.decided.customer_service is not None:
        return
    order_id = (
        draft.order.pk if draft.order else (draft.conversation.order_id if draft.conversation else None)
    )
    draft.decided.customer_service = routing.decide(
        order_id, draft.topic, draft.subject, draft.text or draft.html
    )
