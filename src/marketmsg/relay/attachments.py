"""The files in a mail, as the attachment rules see them (SPEC F7)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from marketmsg.conversations.uploads import NewFile
from marketmsg.mail import images, parsing
from marketmsg.policy import attachments as rules

_BODY_TYPES = {"text/plain", "text/html"}
# Parts that describe the mail itself rather than carry a file someone attached: delivery and
# read reports, and signatures (which our rebuilt mail no longer matches anyway).
_ABOUT_THE_MAIL = {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
    "message/global-headers",
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}


@dataclass(frozen=True)
class MailFile:
    filename: str
    data: bytes


def files_of(mail: Message) -> list[MailFile]:
    """Every leaf part that is a file: marked as an attachment, named, or not text at all."""
    found = []
    for part in parsing.walk(mail):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = parsing.filename_of(part)
        disposition = (part.get_content_disposition() or "").lower()
        if ctype in _BODY_TYPES and not name and disposition != "attachment":
            continue
        if ctype.startswith("multipart/") or ctype in _ABOUT_THE_MAIL:
            continue
        data = parsing.payload_bytes(part) or b""
        if not data and not name:  # an empty part carries nothing
            continue
        found.append(MailFile(name, data))
    return found


def check_mail(mail: Message) -> list[NewFile]:
    """The mail's files, checked and images cleaned; raises rules.AttachmentRefused for the first
    that breaks a rule. An image whose metadata cannot be removed (a broken structure) is refused
    too: it cannot be delivered without what it might reveal."""
    files = files_of(mail)
    rules.check_total([(f.filename or "attachment", len(f.data)) for f in files])
    checked = []
    for found in files:
        verdict = rules.check(found.filename, found.data)
        data = found.data
        if verdict.kind.content_type.startswith("image/"):
            try:
                data = images.without_metadata(found.data, verdict.kind.content_type)
            except images.UnreadableImage as error:
                refusal = rules.Refusal(rules.Rule.UNREADABLE_IMAGE, found.filename, str(error))
                raise rules.AttachmentRefused(refusal) from error
        checked.append(NewFile(verdict.filename, verdict.kind.content_type, data))
    return checked
