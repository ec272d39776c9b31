"""Every SMTP answer the gateway gives: code, enhanced status code, and a sentence a person understands.

Replies are bilingual where a mail client is likely to show them to a Japanese sender.
"""

from __future__ import annotations

import re

from marketmsg.conversations.errors import Refusal
from marketmsg.mail.parsing import MAX_PARTS


def _reply(code: int, status: str, text: str) -> str:
    return f"{code} {status} {text}"


OK_STORED = _reply(250, "2.0.0", "Message accepted and stored for delivery")
OK_HELD = _reply(
    250, "2.0.0", "Message accepted and held: the seller account has not approved this sender address yet"
)
OK_BOUNCE = _reply(250, "2.0.0", "Delivery report received")
OK_RECIPIENT = _reply(250, "2.1.5", "Recipient OK")
DUPLICATE_RECIPIENT = _reply(250, "2.1.5", "Recipient already named in this message; it gets one copy")

UNKNOWN_RECIPIENT = _reply(
    550, "5.1.1", "No such relay address here. Check the address in the order or message you are answering"
)
NOT_OUR_DOMAIN = _reply(
    550, "5.7.1", "Relaying denied: this server only accepts mail for its relay addresses"
)
SENDER_BLOCKED = _reply(
    550, "5.7.1", "This sender address is blocked by the seller account and may not write to buyers"
)
SENDER_NOT_BUYER = _reply(
    550,
    "5.7.1",
    "Only the buyer this relay address belongs to may write to it; send from your registered address",
)
SENDER_IS_THE_BUYER = _reply(
    550,
    "5.7.1",
    "This is your own relay address as the seller sees you; to write to the seller, reply to the "
    "seller's mail or send to the seller's relay address",
)
NO_SENDER = _reply(550, "5.1.7", "The message has no usable sender address (From header)")
MAIL_LOOP = _reply(
    550, "5.4.6", "Mail loop: this message comes from a relay address and cannot be relayed again"
)
TOO_MANY_RECIPIENTS = _reply(452, "4.5.3", "Too many recipients in one message; send the rest separately")
TEMPORARY_FAILURE = _reply(
    451, "4.3.0", "Temporary problem storing the message; nothing was kept. Please try again later"
)
NO_VALID_RECIPIENTS = _reply(554, "5.5.1", "No valid recipients")
NO_SPACE = _reply(
    452, "4.3.1", "The relay is short of storage just now; nothing was kept. Please try again later"
)
TOO_MANY_CONNECTIONS = _reply(
    421, "4.7.0", "Too many connections from your address; close some and try again later"
)
BUSY = _reply(421, "4.3.2", "The relay is busy right now; please try again in a few minutes")
IP_RATE = _reply(450, "4.7.1", "Too many messages from your address just now; please try again later")
SENDER_RATE = _reply(
    450, "4.7.1", "Too many messages from this sender address just now; please try again later"
)
RELAY_RATE = _reply(450, "4.7.1", "Too many messages to this relay address just now; please try again later")


def dmarc_refused(from_domain: str, policy: str) -> str:
    """The From domain's owner asked receivers to refuse mail that fails DMARC; a forger's mail
    must not reach a buyer in an approved seller's name."""
    return _reply(
        550,
        "5.7.26",
        f"This message fails DMARC for its From domain {_smtp_safe(from_domain)} "
        f"(policy {_smtp_safe(policy)}): "
        "it was not sent through a server the domain authorizes. Send it from your own mail server "
        "or ask the domain's administrator to fix its SPF and DKIM",
    )


def refused(reason: Refusal, detail: str = "") -> str:
    """The SMTP answer to a refusal; attachment refusals say which file and why."""
    if reason in _ATTACHMENT_REPLIES:
        code, status, sentence = _ATTACHMENT_REPLIES[reason]
        return _reply(code, status, sentence.format(file=_smtp_safe(detail)))
    return REFUSALS[reason]


def guidelines_blocked(rules: list[str]) -> str:
    """A seller's mail that breaks the communication guidelines: kept for the marketplace's staff,
    delivered to nobody, and refused so that the seller's own mail system reports it."""
    if rules == ["buyer_opted_out"]:
        return _reply(
            550,
            "5.7.1",
            "Not delivered (buyer_opted_out): this buyer receives only answers and messages about a "
            "problem with an order. Use Contact buyer on the web and choose the problem",
        )
    return _reply(
        550,
        "5.7.1",
        f"Not delivered: the message breaks the communication guidelines ({', '.join(rules)}). "
        "No links to other websites, promotions or contact details; remove them and send again",
    )


def _smtp_safe(text: str) -> str:
    """A file name as SMTP can carry it in a reply: printable ASCII on one line, not too long."""
    safe = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return safe[:120] or "(no name)"


_ATTACHMENT_REPLIES = {
    Refusal.ATTACHMENTS_TOO_LARGE: (
        552,
        "5.3.4",
        "Attachments too large: at most 10 MB in all per message; {file} goes over. "
        "Send fewer or smaller files",
    ),
    Refusal.ATTACHMENT_TYPE_NOT_ALLOWED: (
        550,
        "5.7.1",
        "Attachment not allowed: {file}. Only .txt, PDF, Word (.doc, .docx) and images "
        "(.jpg, .gif, .bmp, .png) may be sent",
    ),
    Refusal.ATTACHMENT_UNREADABLE: (
        550,
        "5.7.1",
        "Attachment refused: the image {file} is damaged, so its hidden data (such as a GPS position) "
        "cannot be removed. Save it again and resend",
    ),
    Refusal.ATTACHMENT_NAME_DISAGREES: (
        550,
        "5.7.1",
        "Attachment refused: the name of {file} does not match its content. Rename it or send the right file",
    ),
}

TOO_MANY_PARTS = _reply(
    552,
    "5.3.4",
    f"Too many MIME parts: at most {MAX_PARTS} per message, so that every file can be checked. "
    "Send the files in several messages",
)

REFUSALS = {
    Refusal.TOO_MANY_PARTS: TOO_MANY_PARTS,
    Refusal.SENDER_BLOCKED: SENDER_BLOCKED,
    Refusal.SENDER_NOT_BUYER: SENDER_NOT_BUYER,
    Refusal.SENDER_IS_THE_BUYER: SENDER_IS_THE_BUYER,
    Refusal.NO_SENDER: NO_SENDER,
    Refusal.LOOP: MAIL_LOOP,
    Refusal.UNKNOWN_RECIPIENT: UNKNOWN_RECIPIENT,
}

# aiosmtpd's own protocol replies carry no enhanced status code; these give them one, and a
# sentence a person can act on where the sender is likely to read it.
_ENHANCED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b")
_PROTOCOL = [
    (
        "552 Error: Too much mail data",
        "552 5.3.4 Message too big for this relay: at most {limit} MB. "
        "Send smaller attachments, or several messages",
    ),
    (
        "552 Error: message size exceeds",
        "552 5.3.4 Message too big for this relay: at most {limit} MB. "
        "Send smaller attachments, or several messages",
    ),
    ("503 Error: need RCPT command", "503 5.5.1 No recipient was accepted; send RCPT TO first"),
    ("503 Error: need MAIL command", "503 5.5.1 Send MAIL FROM first"),
    ("503 Error: nested MAIL command", "503 5.5.1 A MAIL command is already in progress"),
    ("503 Error: send", "503 5.5.1 Say EHLO or HELO first"),
    ("500 Line too long", "500 5.5.2 Line too long (at most 998 characters per line, RFC 5321)"),
    ("500 Command line too long", "500 5.5.2 Command line too long"),
]


def enhance(status: str, limit_bytes: int) -> str:
    """The reply aiosmtpd wants to send, with an enhanced status code (RFC 3463) added if missing."""
    if status[:1] not in ("4", "5") or _ENHANCED.match(status):
        return status
    for prefix, replacement in _PROTOCOL:
        if status.startswith(prefix):
            return replacement.format(limit=round(limit_bytes / 1024 / 1024, 1))
    code, _, text = status.partition(" ")
    detail = {
        "500": "5.5.2",
        "501": "5.5.4",
        "502": "5.5.1",
        "503": "5.5.1",
        "504": "5.5.4",
        "553": "5.1.3",
        "554": "5.7.0",
        "555": "5.5.4",
    }.get(code, f"{code[0]}.0.0")
    return f"{code} {detail} {text}"
