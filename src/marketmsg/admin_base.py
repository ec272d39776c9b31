"""The operator's admin (Django admin at /admin/): one rule for every model in it, nothing of the
record is deleted. Deactivate, revoke, disable or block instead."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

admin.site.site_header = "marketmsg 運営者コンソール / operator console"
admin.site.site_title = "marketmsg operator"
admin.site.index_title = "マーケットプレイスの連携 / Marketplace integration"


class KeptAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """No delete button, no delete action: records are kept (SPEC: nothing of the record is deleted)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(KeptAdmin):
    """Written only by the service itself (events, deliveries, attempts, import runs)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class KeptInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
