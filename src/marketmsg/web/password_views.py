"""Passwords of marketmsg's own (the embedded default): reset by mail, and the invitation an
owner sends a new seller user. Both are Django's signed, expiring, single-use links (they sign
the current password, so using one spends it); the mail goes out through the account-mail queue
(accounts.mail). The reset page answers the same whether or not the address has an account.
With ``MARKETMSG_PASSWORDS=off`` none of these pages exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse_lazy
from django.utils import timezone

from marketmsg.accounts.models import AccountMail, User

RESETS_AN_HOUR = 3  # password mails to one address; asking more often sends nothing more


def passwords_on(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.PASSWORDS:
            raise Http404("Passwords are off (MARKETMSG_PASSWORDS).")
        return view(request, *args, **kwargs)

    return wrapped


class ResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[User]:  # type: ignore[override]
        """Active people with this address, also those who never had a password here (made by
        the operator API): the link is how they set their first one. Staff who sign in through
        the operator's provider have no password to reset."""
        found = User.objects.filter(email__iexact=email.strip(), is_active=True)
        recent = AccountMail.objects.filter(
            kind="password_reset",
            recipient__iexact=email.strip(),
            created_at__gte=timezone.now() - timedelta(hours=1),
        )
        if recent.count() >= RESETS_AN_HOUR:
            return  # someone keeps asking: the inbox gets no more than this; the page says the same
        yield from (u for u in found if not u.identities.exists())


class InvitationTokens(PasswordResetTokenGenerator):
    """An invitation link: like a reset link, with its own salt and a week to use it."""

    key_salt = "marketmsg.web.password_views.InvitationTokens"

    def __init__(self) -> None:
        super().__init__()
        self.timeout = settings.INVITATION_MAX_AGE  # type: ignore[misc]


class ResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    template_name = "web/password_reset.html"
    email_template_name = "web/mail/password_reset.txt"
    subject_template_name = "web/mail/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: Any) -> Any:
        # Links in mail point at the public address, not at whatever host the request named.
        self.extra_email_context = {"public_url": settings.PUBLIC_URL}
        return super().form_valid(form)


reset = passwords_on(ResetView.as_view())
reset_sent = passwords_on(
    auth_views.PasswordResetDoneView.as_view(template_name="web/password_reset_sent.html")
)
reset_confirm = passwords_on(
    auth_views.PasswordResetConfirmView.as_view(
        template_name="web/password_set.html",
        success_url=reverse_lazy("password_reset_complete"),
        post_reset_login=True,
        post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
    )
)
reset_complete = passwords_on(
    auth_views.PasswordResetCompleteView.as_view(template_name="web/password_set_done.html")
)
accept_invitation = passwords_on(
    auth_views.PasswordResetConfirmView.as_view(
        template_name="web/password_set.html",
        token_generator=InvitationTokens(),
        success_url=reverse_lazy("home"),
        post_reset_login=True,
        post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
        extra_context={"invitation": True},
    )
)
