"""Orders and their items."""

from __future__ import annotations

import re

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketmsg.accounts.models import Buyer, SellerAccount

ORDER_ID_RE = re.compile(r"(?<!\d)(\d{3}-\d{7}-\d{7})(?!\d)")


class Order(models.Model):
    class Fulfillment(models.TextChoices):
        MFN = "MFN", _("Merchant fulfilled")
        FBA = "FBA", _("Fulfilled by marketplace")

    order_id = models.CharField(max_length=19, unique=True)
    seller = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders")
    fulfillment = models.CharField(max_length=3, choices=Fulfillment.choices, default=Fulfillment.MFN)
    ordered_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["seller", "-ordered_at"])]

    def __str__(self) -> str:
        return self.order_id


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    asin = models.CharField(max_length=10, db_index=True)
    title = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.asin} × {self.quantity}"
