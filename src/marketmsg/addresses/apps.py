from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_save


class AddressesConfig(AppConfig):
    name = "marketmsg.addresses"
    label = "addresses"

    def ready(self) -> None:
        from marketmsg.accounts.models import SellerUser

        post_save.connect(_approve_sign_in_address, sender=SellerUser, dispatch_uid="approve-sign-in")


def _approve_sign_in_address(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Whoever may sign in to a seller account may write to its buyers from that address, from
    the start (SPEC F8). An address the owner already decided about keeps its state."""
    if not created or raw:
        return
    from marketmsg.addresses import services
    from marketmsg.addresses.models import SenderAddress

    email = instance.user.email.lower()
    if services.sender_state(instance.account, email) is None:
        services.set_sender_state(
            instance.account, email, SenderAddress.State.APPROVED, note="sign-in address"
        )
