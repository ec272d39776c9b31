"""Files uploaded with a web message: checked by the same attachment rules as mail (SPEC F7),
images cleaned of metadata, then stored with the message by post_message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils.translation import gettext_lazy

from marketmsg.blobs import store as blobs
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Attachment, Conversation, Message
from marketmsg.mail import images, scrub
from marketmsg.policy import attachments as rules


@dataclass(frozen=True)
class NewFile:
    """A checked file, images already without metadata, not yet stored."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file written to storage, waiting for post_message to record it with its message."""

    filename: str
    content_type: str
    size: int
    sha256: str
    name: str  # the storage's name for it


def scrubbed(files: list[NewFile], replacements: Mapping[str, str]) -> list[NewFile]:
    """Real addresses in names and contents replaced by relay addresses, as in relayed mail, so a
    download shows the other party no more than the mail did."""
    return [
        NewFile(
            scrub.scrub_text(f.filename, dict(replacements)),
            f.content_type,
            scrub.scrub_bytes(f.data, dict(replacements)),
        )
        for f in files
    ]


def store(files: list[NewFile]) -> list[StoredFile]:
    """Write the files to the blob store before the message's transaction, so no write lock is held
    while they are. A transaction that then fails leaves blobs no row names (the orphan sweep removes
    them), never a message without its file."""
    stored: list[StoredFile] = []
    for new in files:
        name, digest = blobs.put(new.data)
        stored.append(StoredFile(new.filename, new.content_type, len(new.data), digest, name))
    return stored


def accept(uploaded: list[UploadedFile]) -> list[NewFile]:
    """The uploads as files ready to store; FormProblem names the file and the rule it breaks."""
    named = [(_name(f), f.size or 0) for f in uploaded]
    try:
        rules.check_total(named)
    except rules.AttachmentRefused as error:
        raise FormProblem("files", _sentence(error.refusal)) from error
    accepted = []
    for upload, (name, _size) in zip(uploaded, named, strict=True):
        data = b"".join(upload.chunks())  # at most 10 MB in all, checked above
        try:
            checked = rules.check(name, data)
            if checked.kind.content_type.startswith("image/"):
                data = images.without_metadata(data, checked.kind.content_type)
        except rules.AttachmentRefused as error:
            raise FormProblem("files", _sentence(error.refusal)) from error
        except images.UnreadableImage as error:
            refusal = rules.Refusal(rules.Rule.UNREADABLE_IMAGE, name, str(error))
            raise FormProblem("files", _sentence(refusal)) from error
        accepted.append(NewFile(checked.filename, checked.kind.content_type, data))
    return accepted


def _name(upload: UploadedFile) -> str:
    """The browser's file name without any path, control characters or excess length."""
    name = (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())
    return name[-200:] or "attachment"


_SENTENCES = {
    rules.Rule.TOO_LARGE: gettext_lazy(
        "“%(file)s” goes over the limit: at most 10 MB of attachments per message."
    ),
    rules.Rule.NAME_DISAGREES: gettext_lazy(
        "The name of “%(file)s” does not match its content (%(detected)s). "
        "Rename it or choose the right file."
    ),
    rules.Rule.UNREADABLE_IMAGE: gettext_lazy(
        "The image “%(file)s” is damaged, so its hidden data cannot be removed. "
        "Save it again and attach it anew."
    ),
    rules.Rule.TYPE_NOT_ALLOWED: gettext_lazy(
        "“%(file)s” cannot be sent (%(detected)s). "
        "Allowed: .txt, PDF, Word (.doc, .docx) and images (.jpg, .gif, .bmp, .png)."
    ),
}


def _sentence(refusal: rules.Refusal) -> str:
    return str(_SENTENCES[refusal.rule]) % {"file": refusal.filename, "detected": refusal.detected}


def carried_over(conversation: Conversation, attachment_ids: Sequence[int]) -> list[UploadedFile]:
    """The files of the shop's own blocked message in this conversation, to go with the corrected
    message: a refused send keeps its attachments (the browser cannot refill a file field)."""
    found = Attachment.objects.filter(
        pk__in=[i for i in attachment_ids if isinstance(i, int)][:MAX_CARRIED],
        message__conversation=conversation,
        message__author=Message.Author.SELLER,
        message__state=Message.State.BLOCKED,
        removed_at__isnull=True,
    ).order_by("pk")
    carried: list[UploadedFile] = []
    for attachment in found:
        with attachment.file.open("rb") as stored:
            carried.append(SimpleUploadedFile(attachment.filename, stored.read(), attachment.content_type))
    return carried


MAX_CARRIED = 20
