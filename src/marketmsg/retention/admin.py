"""The operator admin's side of retention: purge runs and erasures (read-only records), and an
"erase" action on buyers and users that asks once more before doing what cannot be undone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from marketmsg.accounts.admin import BuyerAdmin, UserAdmin
from marketmsg.accounts.models import Buyer, User
from marketmsg.admin_base import ReadOnlyAdmin
from marketmsg.retention import erasure
from marketmsg.retention.models import Erasure, PurgeRun


@admin.register(PurgeRun)
class PurgeRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at", "raw_mime", "attachments", "message_texts", "kept_for_claims",
        "blobs_deleted", "orphans_deleted", "finished_at",
    )  # fmt: skip


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = (
        "erased_at", "kind", "user_id_erased", "external_id", "requested_by", "reference",
        "messages_redacted", "raw_mime_removed", "attachments_removed", "relay_addresses_stopped",
    )  # fmt: skip
    search_fields = ("external_id", "reference")


def _confirmed(request: HttpRequest, people: list[Any], kind: str) -> TemplateResponse | None:
    """The confirmation page, unless this is its answer (then None)."""
    if request.POST.get("confirmed") == "yes":
        return None
    return TemplateResponse(
        request,
        "retention/confirm_erasure.html",
        {
            "people": people,
            "kind": kind,
            "action": request.POST.get("action", ""),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "title": "Erase on request / 削除依頼による消去",
        },
    )


def _done(request: HttpRequest, done: list[Erasure], refused: list[str]) -> None:
    if done:
        redacted = sum(e.messages_redacted for e in done)
        messages.success(
            request,
            f"{len(done)} person(s) erased; {redacted} message(s) redacted. / {len(done)} 名を消去しました。",
        )
    for text in refused:
        messages.warning(request, text)


class ErasableBuyerAdmin(BuyerAdmin):
    actions = ("erase",)

    @admin.action(description="Erase the selected buyers on their request (cannot be undone) / 消去する")
    def erase(self, request: HttpRequest, queryset: QuerySet[Buyer]) -> TemplateResponse | None:
        buyers = list(queryset.select_related("user"))
        page = _confirmed(request, buyers, "buyer")
        if page is not None:
            return page
        done, refused = [], []
        for buyer in buyers:
            try:
                done.append(
                    erasure.erase_buyer(buyer, f"admin {request.user}", request.POST.get("reference", ""))
                )
            except erasure.AlreadyErased as error:
                refused.append(str(error))
        _done(request, done, refused)
        return None


class ErasableUserAdmin(UserAdmin):
    actions = ("erase",)

    @admin.action(
        description="Erase the selected seller users on their request (cannot be undone) / 消去する"
    )
    def erase(self, request: HttpRequest, queryset: QuerySet[User]) -> TemplateResponse | None:
        users = list(queryset)
        page = _confirmed(request, users, "seller_user")
        if page is not None:
            return page
        done, refused = [], []
        for user in users:
            if user.role != User.Role.SELLER:
                refused.append(f"{user.pk} is not a seller's user: erase buyers from the buyer list.")
                continue
            try:
                reference = request.POST.get("reference", "")
                done.append(erasure.erase_seller_user(user, f"admin {request.user}", reference))
            except erasure.AlreadyErased as error:
                refused.append(str(error))
        _done(request, done, refused)
        return None


admin.site.unregister(Buyer)
admin.site.register(Buyer, ErasableBuyerAdmin)
admin.site.unregister(User)
admin.site.register(User, ErasableUserAdmin)
