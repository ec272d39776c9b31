"""The sign-in page: Django's LoginView with the throttle of ``accounts.throttle`` in front."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from marketmsg.accounts import throttle
from marketmsg.sso import providers as sso_providers
from marketmsg.web import twofactor_views


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
    """Passwords, and a button per sign-in provider. With passwords off, a page that needs
    signing in (a deep link) goes straight on to the provider that fits it."""

    template_name = "web/login.html"
    authentication_form = SignInForm

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        target = self.get_redirect_url()
        if not settings.PASSWORDS and target and not request.user.is_authenticated:
            provider = sso_providers.fitting(target)
            if provider is not None:
                return redirect(f"{reverse('sso-start', args=[provider.name])}?{urlencode({'next': target})}")
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.PASSWORDS:
            return HttpResponseNotAllowed(["GET"])
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if twofactor_views.confirmed_device(user) is not None:
            backend = getattr(user, "backend", "django.contrib.auth.backends.ModelBackend")
            return twofactor_views.begin(self.request, user, backend, self.get_redirect_url())
        return super().form_valid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        next_query = urlencode({"next": context.get("next") or ""}) if context.get("next") else ""
        context["passwords"] = settings.PASSWORDS
        context["providers"] = [
            (p.name, reverse("sso-start", args=[p.name]) + (f"?{next_query}" if next_query else ""))
            for p in sso_providers.all_configured()
        ]
        return context

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        minutes = getattr(form, "throttled_minutes", 0)
        if minutes:
            response.status_code = 429
            response["Retry-After"] = str(minutes * 60)
        return response
