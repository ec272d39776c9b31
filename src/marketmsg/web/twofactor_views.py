"""A second factor for people who sign in with a password of ours: a time-based code (TOTP,
django-otp) from an authenticator app. Owners and staff may turn it on under 👤 Settings ›
Two-step sign-in; once on, a correct password only leads to the code page, and the session
begins after the code. People who sign in through a provider use the provider's own factors.
django-otp slows down guessing (each wrong code doubles the wait)."""

from __future__ import annotations

import time
from typing import Any

import segno
from django.contrib import auth
from django.contrib import messages as notices
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from marketmsg.accounts.models import SellerUser, User
from marketmsg.web.access import user_of

PENDING = "two_factor_pending"  # session: the user whose password was right, waiting for the code
PENDING_SECONDS = 300


def may_use(user: User) -> bool:
    return user.role == User.Role.STAFF or SellerUser.objects.filter(user=user, is_owner=True).exists()


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def begin(request: HttpRequest, user: User, backend: str, next_url: str) -> HttpResponse:
    """The password was right and a device is on: ask for the code before signing in."""
    request.session[PENDING] = {"user": user.pk, "backend": backend, "next": next_url, "at": time.time()}
    return redirect("two-factor-verify")


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    return (user, pending) if user else None


def verify(request: HttpRequest) -> HttpResponse:
    found = _pending_user(request)
    if found is None and request.user.is_authenticated:
        return redirect("home")
    if found is None:
        request.session.pop(PENDING, None)
        notices.error(request, _("Sign in again: the code page was open too long."))
        return redirect("login")
    user, pending = found
    error = ""
    if request.method == "POST":
        device = confirmed_device(user)
        allowed, _details = device.verify_is_allowed() if device else (False, None)
        if device is not None and not allowed:
            error = _("Too many wrong codes. Wait a minute, then enter the newest code.")
        elif device is not None and device.verify_token(request.POST.get("code", "").replace(" ", "")):
            request.session.pop(PENDING, None)
            auth.login(request, user, backend=pending["backend"])
            otp_login(request, device)
            target = pending["next"]
            safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
            return redirect(target if target and safe else "home")
        else:
            error = _("That code is not right. Enter the 6 digits your app shows now.")
    return render(request, "web/two_factor_verify.html", {"error": error}, status=400 if error else 200)


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if not may_use(user) or not user.has_usable_password():
        raise Http404("Two-step sign-in is for owners and staff who sign in with a password.")
    device = confirmed_device(user)
    if request.method == "POST":
        code = request.POST.get("code", "").replace(" ", "")
        asked = device or TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if asked is not None and not asked.verify_is_allowed()[0]:
            notices.error(request, _("Too many wrong codes. Wait a minute, then enter the newest code."))
            return redirect("two-factor")
        if device is not None:  # turning it off needs a code too: a left-open session is not enough
            if device.verify_token(code):
                TOTPDevice.objects.filter(user=user).delete()
                notices.success(request, _("Two-step sign-in is off."))
                return redirect("two-factor")
            notices.error(request, _("That code is not right. Enter the 6 digits your app shows now."))
            return redirect("two-factor")
        setup = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if setup is not None and setup.verify_token(code):
            setup.confirmed = True
            setup.save(update_fields=["confirmed"])
            notices.success(
                request, _("Two-step sign-in is on. From now on you enter a code after your password.")
            )
            return redirect("two-factor")
        notices.error(request, _("That code is not right. Enter the 6 digits your app shows now."))
        return redirect("two-factor")
    context: dict[str, Any] = {"on": device is not None}
    if device is None:
        setup, _created = TOTPDevice.objects.get_or_create(
            user=user, confirmed=False, defaults={"name": "authenticator app"}
        )
        context["qr"] = segno.make(setup.config_url, error="m").svg_data_uri(scale=4)
        context["secret"] = _base32(setup.bin_key)
    return render(request, "web/two_factor.html", context)


def _base32(key: bytes) -> str:
    import base64

    text = base64.b32encode(key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))
