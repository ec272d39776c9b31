"""The shop's people (👤 Settings › Team): everyone sees who answers buyers; the owner invites a
new seller user by e-mail. The invitation is a signed link that expires
(``MARKETMSG_INVITATION_MAX_AGE``) and is spent once the password is chosen; it goes out through
the account-mail queue. Shops whose people sign in through the marketplace get them from the
operator API instead, and the form is not shown."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages as notices
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketmsg.accounts import mail
from marketmsg.accounts.models import SellerAccount, SellerUser, User
from marketmsg.integration.people import add_member
from marketmsg.integration.records import Refused, SellerUserRecord
from marketmsg.web.access import seller_only, user_of
from marketmsg.web.password_views import InvitationTokens

log = logging.getLogger(__name__)


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail address"), max_length=254)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=150)
    language = forms.ChoiceField(
        label=gettext_lazy("Language of the pages"), choices=[("ja", "日本語"), ("en", "English")]
    )


def invitation_text(user: User, account: SellerAccount, link: str, days: int) -> str:
    return (
        f"{user.name} 様\n\n{account.name} のメッセージセンターに招待されました。"
        f"次のリンクからパスワードを設定すると、購入者への返信ができるようになります（{days}日間有効、一度だけ使えます）。\n\n"
        f"You were invited to {account.name}'s message center. Choose your password with the link below "
        f"to answer your shop's buyers (it works once, for {days} days).\n\n{link}\n"
    )


def _invite(request: HttpRequest, account: SellerAccount, form: InviteForm) -> str | None:
    """Adds the person and queues their invitation; the error to show, or None."""
    email = form.cleaned_data["email"].strip().lower()
    person = SellerUserRecord(email, form.cleaned_data["name"].strip(), form.cleaned_data["language"], False)
    try:
        with transaction.atomic():
            user = add_member(account, person, by="invited by the owner")
            user.refresh_from_db()
            token = InvitationTokens().make_token(user)
            path = reverse("accept-invitation", args=[urlsafe_base64_encode(force_bytes(user.pk)), token])
            days = max(1, settings.INVITATION_MAX_AGE // 86400)
            mail.queue(
                "invitation",
                user.email,
                f"{account.name}: メッセージセンターへの招待 / Invitation to the message center",
                invitation_text(user, account, settings.PUBLIC_URL + path, days),
            )
    except Refused as refusal:
        log.info("invitation refused: %s", refusal.problems[0].message)
        return _("This address cannot join your shop: it works for another shop or for the marketplace.")
    return None


@seller_only
def team(request: HttpRequest) -> HttpResponse:
    membership = SellerUser.objects.select_related("account").get(user=user_of(request))
    account = membership.account
    may_invite = membership.is_owner and settings.PASSWORDS
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not may_invite:
            raise Http404("Only the owner invites, and only while passwords are on.")
        if form.is_valid():
            error = _invite(request, account, form)
            if error is None:
                notices.success(
                    request,
                    _("Invited: %(email)s gets a link to choose a password.")
                    % {"email": form.cleaned_data["email"]},
                )
                return redirect("team")
            form.add_error("email", error)
    members = (
        SellerUser.objects.filter(account=account).select_related("user").order_by("-is_owner", "user__name")
    )
    return render(
        request,
        "web/team.html",
        {"account": account, "members": members, "form": form, "may_invite": may_invite},
    )
