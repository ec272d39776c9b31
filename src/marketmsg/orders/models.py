"""Orders, their items, and the marketplace's products."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from marketmsg.accounts.models import Buyer, SellerAccount, User


class Order(models.Model):
    class Fulfillment(models.TextChoices):
        MFN = "MFN", _("Merchant fulfilled")
        FBA = "FBA", _("Fulfilled by marketplace")

    class Status(models.TextChoices):
        PLACED = "placed", pgettext_lazy("order status", "Placed")
        SHIPPED = "shipped", pgettext_lazy("order status", "Shipped")
        DELIVERED = "delivered", pgettext_lazy("order status", "Delivered")
        CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")
        RETURNED = "returned", pgettext_lazy("order status", "Returned")

    # The marketplace's own order ID: what buyers see and the key of every import and upsert. Its
    # format is a setting (orders.identifiers).
    order_id = models.CharField(max_length=64, unique=True)
    # No index of its own: the (seller, -ordered_at) index below serves every lookup by seller.
    seller = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="orders", db_index=False)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders")
    fulfillment = models.CharField(max_length=3, choices=Fulfillment.choices, default=Fulfillment.MFN)
    ordered_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PLACED, db_default=Status.PLACED
    )
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    tracking_carrier = models.CharField(max_length=100, blank=True, default="", db_default="")
    tracking_number = models.CharField(max_length=100, blank=True, default="", db_default="")

    class Meta:
        indexes = [models.Index(fields=["seller", "-ordered_at"])]

    def __str__(self) -> str:
        return self.order_id


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    # The product ID (an ASIN by default; the column keeps its first name).
    asin = models.CharField(max_length=40, db_index=True)
    title = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.asin} × {self.quantity}"


class Product(models.Model):
    """A product the marketplace told us about (operator API, import): its ID and current title.
    An order item keeps the title it was bought under."""

    product_id = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=300)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.product_id} {self.title}"


class Claim(models.Model):
    """An A-to-z guarantee claim about an order: staff read the record and decide."""

    class Decision(models.TextChoices):
        OPEN = "open", _("Open")
        BUYER = "buyer", _("Decided for the buyer")
        SELLER = "seller", _("Decided for the seller")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="claims")
    opened_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.OPEN)
    note = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Written by the staff console before claims moved here (a state-only move, orders 0005).
        db_table = "staff_claim"

    def __str__(self) -> str:
        return f"claim {self.pk} on order {self.order_id}"

    @property
    def is_open(self) -> bool:
        return self.decision == self.Decision.OPEN
