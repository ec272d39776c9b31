"""Settings › API tokens: a seller user creates and revokes personal tokens (SPEC F12).

A new token's secret is shown once, on the page that created it; only its SHA-256 digest is kept.
"""

from __future__ import annotations

from django.contrib import messages as notices
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketmsg.accounts.models import ApiToken
from marketmsg.web.access import seller_only, user_of


@seller_only
def tokens(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    created_secret = ""
    problem = ""
    if request.method == "POST":
        name = " ".join(request.POST.get("name", "").split())[:100]
        scopes = [s for s in request.POST.getlist("scopes") if s in ("read", "write")]
        if not name:
            problem = _("Give the token a name, such as the tool that will use it.")
        elif not scopes:
            problem = _("Choose at least one scope.")
        else:
            _token, created_secret = ApiToken.issue(user, name, scopes)
    listed = ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")
    return render(
        request,
        "web/api_tokens.html",
        {"tokens": listed, "created_secret": created_secret, "problem": problem},
    )


@seller_only
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    mine = ApiToken.objects.filter(pk=token_id, user=user_of(request))
    if not mine.exists():
        raise Http404("No such token.")  # another user's token: as if it did not exist
    changed = mine.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    if changed:
        notices.success(request, _("The token was revoked; requests with it are now refused."))
    return redirect("api-tokens")
