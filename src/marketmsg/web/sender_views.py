"""代替アドレスの管理 — the owner's page of approved, blocked and unknown sender addresses (SPEC F8).

Seller users see the lists read-only; a change by anyone but the owner is refused on the server.
"""

from __future__ import annotations

from django.contrib import messages as notices
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketmsg.accounts.models import SellerAccount, SellerUser
from marketmsg.addresses.models import SenderAddress, SenderAddressChange
from marketmsg.conversations import senders
from marketmsg.conversations.models import Message
from marketmsg.web.access import seller_only, user_of

State = SenderAddress.State
ACTIONS = {"approve": State.APPROVED, "block": State.BLOCKED}
ADD_TO = {"add-approved": State.APPROVED, "add-blocked": State.BLOCKED}


@seller_only
def sender_lists(request: HttpRequest) -> HttpResponse:
    membership = SellerUser.objects.select_related("account").get(user=user_of(request))
    if request.method == "POST":
        if not membership.is_owner:
            notices.error(
                request,
                _("Only the account owner can change the sender lists. Ask the owner to do it."),
            )
            return _page(request, membership, status=403)
        try:
            _change(request, membership)
        except senders.ListProblem as problem:
            notices.error(request, str(problem))
        except _Confirm as confirm:
            return _page(request, membership, confirm=confirm)
        return redirect("sender-lists")
    return _page(request, membership)


class _Confirm(Exception):
    """Blocking would stop the shop's own people from writing to buyers: ask first."""

    def __init__(self, own: list[str], fields: list[tuple[str, str]]) -> None:
        super().__init__(", ".join(own))
        self.own, self.fields = own, fields


def _ask_before_blocking_own(request: HttpRequest, account: SellerAccount, emails: list[str]) -> None:
    if request.POST.get("confirmed") == "1":
        return
    members = {
        e.lower() for e in SellerUser.objects.filter(account=account).values_list("user__email", flat=True)
    }
    own = sorted(e for e in emails if e.lower() in members)
    if own:
        fields = [(k, v) for k in ("action", "new_email", "shared") for v in request.POST.getlist(k)]
        fields += [("sender", v) for v in request.POST.getlist("sender")]
        raise _Confirm(own, fields)


def _change(request: HttpRequest, membership: SellerUser) -> None:
    account, user = membership.account, user_of(request)
    action = request.POST.get("action", "")
    if action == "add-blocked":
        _ask_before_blocking_own(request, account, [request.POST.get("new_email", "").strip()])
    if action in ADD_TO:
        moved = senders.add(
            account,
            request.POST.get("new_email", ""),
            ADD_TO[action],
            user,
            request.POST.get("shared") == "1",
        )
        _report(request, [moved])
        return
    if action not in ACTIONS:
        raise senders.ListProblem(_("Choose Approve or Block."))
    chosen = [value for value in request.POST.getlist("sender") if value.isdigit()]
    emails = list(
        SenderAddress.objects.filter(account=account, pk__in=chosen).values_list("email", flat=True)
    )
    if not emails:
        raise senders.ListProblem(_("Tick at least one address first, then press Approve or Block."))
    if action == "block":
        _ask_before_blocking_own(request, account, emails)
    _report(request, senders.move(account, emails, ACTIONS[action], user))


def _report(request: HttpRequest, moved: list[senders.Moved]) -> None:
    state = moved[0].sender.state
    count = len(moved)
    if state == State.APPROVED:
        text = ngettext("Approved %(count)d address.", "Approved %(count)d addresses.", count) % {
            "count": count
        }
        released = sum(m.released for m in moved)
        if released:
            text += " " + ngettext(
                "%(count)d held message is on its way.", "%(count)d held messages are on their way.", released
            ) % {"count": released}
    else:
        text = ngettext("Blocked %(count)d address.", "Blocked %(count)d addresses.", count) % {
            "count": count
        }
        withheld = sum(m.withheld for m in moved)
        if withheld:
            text += " " + ngettext(
                "%(count)d held message will not be delivered; the sender was told once.",
                "%(count)d held messages will not be delivered; the sender was told once.",
                withheld,
            ) % {"count": withheld}
    notices.success(request, text)


PREVIEWS = 3  # held messages shown per unknown sender, newest first


def _attach_held_previews(account: SellerAccount, unknown: list[SenderAddress]) -> None:
    """What each unknown address wrote, so that the owner can read it before approving it."""
    for sender in unknown:
        held = (
            Message.objects.filter(seller=account, state=Message.State.HELD, sender_email=sender.email)
            .select_related("conversation__order", "conversation__buyer__user")
            .order_by("-created_at")[:PREVIEWS]
        )
        sender.previews = [  # type: ignore[attr-defined]
            {
                "at": m.created_at,
                "subject": m.subject,
                "to": m.conversation.buyer.user.name,
                "order": m.conversation.order.order_id if m.conversation.order else "",
                "text": (m.text or "")[:400],
            }
            for m in held
        ]


def _notes() -> dict[str, str]:
    """The notes the marketplace writes into the history, in the reader's language."""
    return {
        "sign-in address": _("sign-in address"),
        "held mail": _("its mail was held"),
        "seeded": _("demo data"),
        "API": _("by the API"),
    }


def _page(
    request: HttpRequest, membership: SellerUser, status: int = 200, confirm: _Confirm | None = None
) -> HttpResponse:
    account = membership.account
    lists = senders.lists(account)
    approved = {s.email for s in lists[State.APPROVED]}
    members = [
        {
            "email": m.user.email.lower(),
            "name": m.user.name,
            "owner": m.is_owner,
            "may_write": m.user.email.lower() in approved,
        }
        for m in SellerUser.objects.filter(account=account)
        .select_related("user")
        .order_by("-is_owner", "user__email")
    ]
    _attach_held_previews(account, lists[State.UNKNOWN])
    names = dict(State.choices)
    history = list(
        SenderAddressChange.objects.filter(sender__account=account)
        .select_related("sender", "changed_by")
        .order_by("-changed_at", "-pk")[:50]
    )
    for change in history:
        change.from_label = names.get(change.from_state, _("new"))  # type: ignore[attr-defined]
        change.to_label = names.get(change.to_state, change.to_state)  # type: ignore[attr-defined]
        change.note = _notes().get(change.note, change.note)
    return render(
        request,
        "web/senders.html",
        {
            "is_owner": membership.is_owner,
            "confirm": confirm,
            "approved": lists[State.APPROVED],
            "blocked": lists[State.BLOCKED],
            "unknown": lists[State.UNKNOWN],
            "members": members,
            "history": history,
        },
        status=status,
    )
