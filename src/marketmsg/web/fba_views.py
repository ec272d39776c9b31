"""FBA settings › Product support (SPEC F9): the account owner turns it on or off; every change
is recorded with who and when."""

from __future__ import annotations

from django.contrib import messages as notices
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerSettingChange, SellerUser
from marketmsg.web.access import seller_only, user_of

SETTING = "fba_product_support"


@seller_only
def product_support(request: HttpRequest) -> HttpResponse:
    membership = SellerUser.objects.select_related("account").get(user=user_of(request))
    account = membership.account
    editing = request.GET.get("edit") == "1" or request.method == "POST"
    if editing and not membership.is_owner:
        raise Http404("Only the account owner changes settings.")
    if request.method == "POST":
        choice = request.POST.get("product_support")
        if choice not in ("enabled", "disabled"):
            notices.error(request, _("Choose Enabled or Disabled."))
            return redirect(f"{request.path}?edit=1")
        enabled = choice == "enabled"
        if enabled != account.fba_product_support:
            with transaction.atomic():
                SellerSettingChange.objects.create(
                    account=account,
                    setting=SETTING,
                    old_value=str(account.fba_product_support),
                    new_value=str(enabled),
                    changed_by=user_of(request),
                )
                account.fba_product_support = enabled
                account.save(update_fields=[SETTING])
        notices.success(
            request,
            _("Product support is now %(state)s.") % {"state": _("enabled") if enabled else _("disabled")},
        )
        return redirect("fba-product-support")
    history = SellerSettingChange.objects.filter(account=account, setting=SETTING).select_related(
        "changed_by"
    )
    return render(
        request,
        "web/fba_settings.html",
        {
            "account": account,
            "editing": editing,
            "is_owner": membership.is_owner,
            "history": history.order_by("-changed_at", "-pk")[:20],
        },
    )
