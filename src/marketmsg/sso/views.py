"""The provider sign-in's edges: start (to the provider, with state, nonce and PKCE), callback
(back from it), and sign-out (here, then at the provider). mozilla-django-oidc's views do the
protocol; these name the provider and turn every failure into a page that says what to do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from marketmsg.sso.pages import refused
from marketmsg.sso.providers import Provider, ProviderUnavailable, configured

SESSION_PROVIDER = "sso_provider"


class _Start(OIDCAuthenticationRequestView):
    provider: Provider = None  # type: ignore[assignment]  # given to as_view()

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        return self.provider.setting(attr, *args)


class _Callback(OIDCAuthenticationCallbackView):
    provider: Provider = None  # type: ignore[assignment]  # given to as_view()

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        return self.provider.setting(attr, *args)

    def login_success(self) -> HttpResponse:
        response = super().login_success()
        self.request.session[SESSION_PROVIDER] = self.provider.name
        self.request.session.set_expiry(settings.SSO_SESSION_SECONDS)
        return response

    def login_failure(self) -> HttpResponse:
        refusal = getattr(self.request, "sso_refusal", None)
        if refusal is not None:
            return refused(self.request, refusal.reason, refusal.subject)
        if self.request.GET.get("error"):
            return refused(self.request, "cancelled")
        return refused(self.request, "state")


@require_GET
def start(request: HttpRequest, provider: str) -> HttpResponse:
    found = configured(provider)
    if found is None:
        return refused(request, "off")
    try:
        return _Start.as_view(provider=found)(request)  # type: ignore[no-any-return]
    except ProviderUnavailable:
        return refused(request, "unavailable")


@require_GET
def callback(request: HttpRequest, provider: str) -> HttpResponse:
    found = configured(provider)
    if found is None:
        return refused(request, "off")
    request.sso_provider = found  # type: ignore[attr-defined]
    try:
        return _Callback.as_view(provider=found)(request)  # type: ignore[no-any-return]
    except SuspiciousOperation:  # a state this browser never started: altered or replayed
        return refused(request, "state")
    except ProviderUnavailable:
        return refused(request, "unavailable")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Ends the session here; a provider session is ended at the provider too (RP-initiated
    logout), which then sends the person back to the sign-in page."""
    provider = configured(request.session.get(SESSION_PROVIDER, ""))
    id_token = request.session.get("oidc_id_token")
    auth.logout(request)
    back = resolve_url(settings.LOGOUT_REDIRECT_URL)
    if provider is None or not id_token:
        return HttpResponseRedirect(back)
    try:
        end = provider.endpoints().get("end_session_endpoint")
    except ProviderUnavailable:
        end = None
    if not end:
        return HttpResponseRedirect(back)
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": provider.client_id,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
        }
    )
    return HttpResponseRedirect(f"{end}?{query}")
