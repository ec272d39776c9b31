"""The page behind the signed "no reply needed" link in relayed buyer mail (SPEC F4).

GET shows what would be marked and changes nothing (mail scanners open links); the button on the
page POSTs, and only that marks the message. The token is the permission: the seller reading the
mail need not be signed in, as with the marketplace's own mail links.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect

from marketmsg.accounts.models import User
from marketmsg.conversations import compose, noreply_link
from marketmsg.conversations.models import Message
from marketmsg.web.access import user_of, works_for


def _shop_user(request: HttpRequest, message: Message) -> User | None:
    """Who marked it, when a user of that very shop is signed in; otherwise only the link did."""
    return user_of(request) if works_for(request, message.conversation.seller_id) else None


@csrf_protect
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        message_id = noreply_link.message_id_from(token)
    except noreply_link.LinkProblem as problem:
        return render(request, "web/no_reply_link.html", {"problem": problem}, status=400)
    message = (
        Message.objects.filter(pk=message_id, author=Message.Author.BUYER)
        .select_related("conversation__order", "conversation__buyer__user", "conversation__seller")
        .first()
    )
    if message is None:
        return render(
            request, "web/no_reply_link.html", {"problem": noreply_link.LinkProblem(False)}, status=404
        )
    marked_now = False
    if request.method == "POST":
        marked_now = compose.mark_no_reply_needed(message, _shop_user(request, message))
        message.refresh_from_db()
    return render(request, "web/no_reply_link.html", {"message": message, "marked_now": marked_now})
