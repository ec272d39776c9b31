"""Every SMTP answer the gateway gives: code, enhanced status code, and a sentence a person understands.

Replies are bilingual where a mail client is likely to show them to a Japanese sender.
"""

from __future__ import annotations

from marketmsg.conversations.errors import Refusal


def _reply(code: int, status: str, text: str) -> str:
    return f"{code} {status} {text}"


OK_STORED = _reply(250, "2.0.0", "Message accepted and stored for delivery")
OK_HELD = _reply(
    250, "2.0.0", "Message accepted and held: the seller account has not approved this sender address yet"
)
OK_BOUNCE = _reply(250, "2.0.0", "Delivery report received")
OK_RECIPIENT = _reply(250, "2.1.5", "Recipient OK")

UNKNOWN_RECIPIENT = _reply(
    550, "5.1.1", "No such relay address here. Check the address in the order or message you are answering"
)
NOT_OUR_DOMAIN = _reply(550, "5.7.1", "Relaying denied: this server only accepts mail for its relay addresses")
SENDER_BLOCKED = _reply(
    550, "5.7.1", "This sender address is blocked by the seller account and may not write to buyers"
)
SENDER_NOT_BUYER = _reply(
    550, "5.7.1", "Only the buyer this relay address belongs to may write to it; send from your registered address"
)
NO_SENDER = _reply(550, "5.1.7", "The message has no usable sender address (From header)")
TOO_MANY_RECIPIENTS = _reply(452, "4.5.3", "Too many recipients in one message; send the rest separately")
TEMPORARY_FAILURE = _reply(
    451, "4.3.0", "Temporary problem storing the message; nothing was kept. Please try again later"
)
NO_VALID_RECIPIENTS = _reply(554, "5.5.1", "No valid recipients")

REFUSALS = {
    Refusal.SENDER_BLOCKED: SENDER_BLOCKED,
    Refusal.SENDER_NOT_BUYER: SENDER_NOT_BUYER,
    Refusal.NO_SENDER: NO_SENDER,
}
