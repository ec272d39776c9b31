"""Downloads of message attachments for the two parties (SPEC F7). Marketplace staff use
``/staff/files/`` instead, which asks for grounds and writes an audit entry (SPEC F11)."""

from __future__ import annotations

import logging
from typing import IO

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest

from marketmsg.accounts.models import User
from marketmsg.blobs.store import BlobMissing
from marketmsg.conversations import stored
from marketmsg.conversations.models import Attachment, Message
from marketmsg.conversations.visibility import shown_to_buyer
from marketmsg.web.access import user_of, works_for

log = logging.getLogger(__name__)


def _may_see(request: HttpRequest, message: Message) -> bool:
    user = user_of(request)
    conversation = message.conversation
    if user.role == User.Role.STAFF:
        return False  # staff open files through /staff/files/, with grounds and an audit entry
    if conversation.buyer.user_id == user.pk and shown_to_buyer(message):
        return True  # their own conversation as a buyer (a shopkeeper may be one too)
    return works_for(request, conversation.seller_id)


def opened_or_404(attachment: Attachment) -> IO[bytes]:
    """The stored file as a stream; a file the store has lost is "not found", not a 500."""
    try:
        return stored.opened(attachment)
    except BlobMissing as error:
        log.error("attachment %d: the blob store has no %s", attachment.pk, attachment.file.name)
        raise Http404("The file is not available.") from error


@login_required
def download(request: HttpRequest, attachment_id: int) -> FileResponse:
    """Always as a download (Content-Disposition: attachment; nosniff comes from the security
    middleware), never rendered by the browser; anyone else gets 404, as for conversations."""
    found = (
        Attachment.objects.filter(pk=attachment_id, removed_at__isnull=True)
        .select_related("message__conversation__buyer")
        .first()
    )
    if found is None or not found.file or not _may_see(request, found.message):
        raise Http404("No such file.")
    return FileResponse(
        opened_or_404(found), as_attachment=True, filename=found.filename, content_type=found.content_type
    )
