"""Relay addresses (one per buyer-seller pair and direction) and a seller's sender-address list."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketmsg.accounts.models import Buyer, SellerAccount, User


class RelayAddress(models.Model):
    """An anonymized address on the relay domain that stands for one party towards the other.

    ``side=BUYER``: how the seller sees this buyer; mail to it reaches the buyer.
    ``side=SELLER``: how the buyer sees this seller; mail to it reaches the seller.
    """

    class Side(models.TextChoices):
        BUYER = "buyer", "Buyer"
        SELLER = "seller", "Seller"

    local_part = models.CharField(max_length=16, unique=True)
    domain = models.CharField(max_length=253)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="relay_addresses")
    seller = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="relay_addresses")
    side = models.CharField(max_length=6, choices=Side.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["buyer", "seller", "side"], name="one_relay_address_per_side")
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        return f"{self.local_part}@{self.domain}"


class NeverDeleted(models.QuerySet):  # type: ignore[type-arg]
    """The sender lists keep every address and every change (SPEC F8): there is no delete."""

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Sender addresses and their history are never deleted.")


class SenderAddress(models.Model):
    """An address that has written, or may write, to buyers for a seller account (代替アドレス).

    Rows are never deleted: every change of state is kept in SenderAddressChange.
    """

    class State(models.TextChoices):
        APPROVED = "approved", _("Approved sender")
        BLOCKED = "blocked", _("Blocked sender")
        UNKNOWN = "unknown", _("Unknown sender")

    account = models.ForeignKey(SellerAccount, on_delete=models.PROTECT, related_name="sender_addresses")
    email = models.EmailField()
    state = models.CharField(max_length=8, choices=State.choices)
    is_shared = models.BooleanField(default=False, help_text="A team alias rather than one person.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = NeverDeleted.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "email"], name="one_row_per_sender")]

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Sender addresses are never deleted; block one instead.")

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"


class SenderAddressChange(models.Model):
    sender = models.ForeignKey(SenderAddress, on_delete=models.PROTECT, related_name="history")
    from_state = models.CharField(max_length=8, blank=True)
    to_state = models.CharField(max_length=8)
    changed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT)
    changed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    objects = NeverDeleted.as_manager()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The history of the sender lists is never deleted.")
