from __future__ import annotations

from django.contrib import admin

from marketmsg.accounts.models import AccountMail, Buyer, SellerAccount, SellerUser, User
from marketmsg.admin_base import KeptAdmin, KeptInline, ReadOnlyAdmin


class MemberInline(KeptInline):
    model = SellerUser
    raw_id_fields = ("user",)
    fields = ("user", "is_owner")


@admin.register(SellerAccount)
class SellerAccountAdmin(KeptAdmin):
    list_display = ("id", "external_id", "name", "fba_product_support", "created_at")
    search_fields = ("external_id", "name", "members__user__email")
    list_filter = ("fba_product_support",)
    inlines = (MemberInline,)


@admin.register(Buyer)
class BuyerAdmin(KeptAdmin):
    list_display = ("id", "external_id", "name", "email", "is_mobile", "declines_unprompted")
    search_fields = ("external_id", "user__email", "user__name")
    list_filter = ("is_mobile", "declines_unprompted")
    raw_id_fields = ("user",)
    list_select_related = ("user",)


@admin.register(User)
class UserAdmin(KeptAdmin):
    list_display = ("id", "email", "name", "role", "external_id", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "name", "external_id")
    list_filter = ("role", "is_active", "is_staff", "language")
    fields = (
        "email", "name", "role", "external_id", "language", "time_zone",
        "is_active", "is_staff", "is_supervisor",
    )  # fmt: skip


@admin.register(AccountMail)
class AccountMailAdmin(ReadOnlyAdmin):
    """Password links and invitations: whether they went out (their text holds a live link and is
    not shown)."""

    list_display = ("id", "kind", "recipient", "state", "attempts", "created_at", "finished_at")
    list_filter = ("kind", "state")
    search_fields = ("recipient",)
    fields = ("kind", "recipient", "subject", "state", "attempts", "last_reply", "created_at", "finished_at")
