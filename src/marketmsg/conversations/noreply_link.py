"""The signed, expiring, per-message link in every buyer message relayed to a seller (SPEC F4).

The token names one message and carries the time it was made; the secret key signs it. Opening
the link only shows a confirmation page, because mail scanners follow links: the mark is made by
the form on that page (POST).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from marketmsg.mail import ownlinks

SALT = "marketmsg.no-reply-needed"


class LinkProblem(Exception):
    """The link is broken or too old; ``expired`` tells which."""

    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def token_for(message_id: int) -> str:
    return signing.dumps(message_id, salt=SALT)


def message_id_from(token: str) -> int:
    try:
        value = signing.loads(token, salt=SALT, max_age=settings.NO_REPLY_LINK_MAX_AGE)
    except signing.SignatureExpired as error:
        raise LinkProblem(expired=True) from error
    except signing.BadSignature as error:
        raise LinkProblem(expired=False) from error
    if not isinstance(value, int):
        raise LinkProblem(expired=False)
    return value


def url_for(message_id: int) -> str:
    return f"{settings.PUBLIC_URL}{ownlinks.PATH}{token_for(message_id)}/"
