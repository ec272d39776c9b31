from __future__ import annotations

from django.contrib import admin

from marketmsg.accounts.models import Buyer, SellerAccount, SellerUser, User
from marketmsg.admin_base import KeptAdmin, KeptInline


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
    list_display = ("id", "email", "name", "role", "language", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "name")
    list_filter = ("role", "is_active", "is_staff", "language")
    fields = ("email", "name", "role", "language", "time_zone", "is_active", "is_staff", "is_supervisor")
