from __future__ import annotations

from django.contrib import admin

from marketmsg.admin_base import KeptAdmin, KeptInline
from marketmsg.orders.models import Order, OrderItem, Product


class ItemInline(KeptInline):
    model = OrderItem
    fields = ("asin", "title", "quantity")


@admin.register(Order)
class OrderAdmin(KeptAdmin):
    list_display = ("order_id", "seller", "buyer", "status", "fulfillment", "ordered_at", "tracking_number")
    search_fields = ("order_id", "seller__external_id", "buyer__external_id", "items__asin")
    list_filter = ("status", "fulfillment")
    raw_id_fields = ("seller", "buyer")
    list_select_related = ("seller", "buyer__user")
    date_hierarchy = "ordered_at"
    inlines = (ItemInline,)


@admin.register(Product)
class ProductAdmin(KeptAdmin):
    list_display = ("product_id", "title", "updated_at")
    search_fields = ("product_id", "title")
