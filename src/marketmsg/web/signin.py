"""The sign-in page: Django's LoginView with the throttle of ``accounts.throttle`` in front."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from marketmsg.accounts import throttle


def client_ip(request: HttpRequest) -> str:
    """The client's address: behind our TLS proxy, the entry that proxy appended last."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_TLS_PROXY and forwarded:
        return forwarded.split(",")[-1].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


class SignInForm(AuthenticationForm):
    throttled_minutes = 0

    def clean(self) -> dict[str, Any]:
        typed = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else ""
        wait = throttle.minutes_to_wait(typed, ip)
        if wait:
            self.throttled_minutes = wait
            # The page words it with the minutes to wait (login.html).
            raise ValidationError(_("Too many failed sign-ins. Try again later."), code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(typed, ip)
            raise
        throttle.forget_failures(typed)
        return cleaned


class SignInView(LoginView):
    template_name = "web/login.html"
    authentication_form = SignInForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        minutes = getattr(form, "throttled_minutes", 0)
        if minutes:
            response.status_code = 429
            response["Retry-After"] = str(minutes * 60)
        return response
