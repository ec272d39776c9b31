"""Who may use the console (``staff_only``), and why a staff member may look at a conversation: a
claim on its order, or a stated reason (SPEC F11). Without either, nothing of the conversation is
shown."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from marketmsg.accounts.models import User
from marketmsg.conversations.models import Conversation
from marketmsg.orders.models import Claim
from marketmsg.web.access import for_role

staff_only = for_role(User.Role.STAFF)
MIN_REASON = 6  # characters, so that a reason says something ("look" does not); 6 fits Japanese


@dataclass(frozen=True)
class Grounds:
    claim: Claim | None
    reason: str

    def query(self) -> str:
        """The URL parameters that carry the grounds on to the next page (raw message, file)."""
        from urllib.parse import urlencode

        return urlencode({"claim": self.claim.pk} if self.claim else {"reason": self.reason})


def grounds_for(request: HttpRequest, conversation: Conversation) -> Grounds | None:
    """The claim (on this conversation's order) or the reason given in the request, if any."""
    claim_id = request.GET.get("claim") or request.POST.get("claim") or ""
    if claim_id.isdigit() and conversation.order_id is not None:
        claim = Claim.objects.filter(pk=int(claim_id), order_id=conversation.order_id).first()
        if claim is not None:
            return Grounds(claim, "")
    reason = " ".join((request.GET.get("reason") or request.POST.get("reason") or "").split())
    if len(reason) >= MIN_REASON:
        return Grounds(None, reason[:300])
    return None
