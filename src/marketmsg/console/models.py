"""The marketplace staff's records (SPEC F11): the audit log and customer-service closures. (Claims
are the orders': orders.models.Claim.)"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketmsg.accounts.models import User
from marketmsg.orders.models import Claim


class AppendOnly(models.QuerySet):  # type: ignore[type-arg]
    """The audit log is written once and never changed or deleted by the application."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit entries are never changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are never deleted.")


class AuditEntry(models.Model):
    """One look or one action by a staff member: who, what, when, and for which claim or reason."""

    class Action(models.TextChoices):
        VIEW_CONVERSATION = "view_conversation", _("Viewed a conversation")
        VIEW_RAW = "view_raw", _("Viewed a raw message")
        VIEW_ATTACHMENT = "view_attachment", _("Opened an attachment")
        OPEN_CLAIM = "open_claim", _("Opened a claim")
        DECIDE_CLAIM = "decide_claim", _("Decided a claim")
        REMOVE_ATTACHMENT = "remove_attachment", _("Removed an attachment")
        ANSWER_CUSTOMER = "answer_customer", _("Answered a customer-service message")
        CLOSE_CUSTOMER = "close_customer", _("Closed a customer-service item")
        EXPORT = "export", _("Exported a conversation")
        SEARCH = "search", _("Searched conversations")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    staff = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    claim = models.ForeignKey(Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    reason = models.CharField(max_length=300, blank=True, default="")
    conversation_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    attachment_id = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True, default="")

    objects = AppendOnly.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.staff_id} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit entries are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are never deleted.")


class CustomerServiceClosure(models.Model):
    """A customer-service queue item (a buyer message routed to the marketplace, SPEC F9) that
    staff answered or otherwise settled."""

    message = models.OneToOneField(
        "conversations.Message", on_delete=models.PROTECT, related_name="cs_closure"
    )
    closed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(default=timezone.now)
    answer = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"customer-service item {self.message_id} closed"
