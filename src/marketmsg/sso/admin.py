from __future__ import annotations

from django.contrib import admin

from marketmsg.admin_base import ReadOnlyAdmin
from marketmsg.sso.models import SignInIdentity


@admin.register(SignInIdentity)
class SignInIdentityAdmin(ReadOnlyAdmin):
    """Staff accounts the operator's provider made, with the subject that signs them in."""

    list_display = ("provider", "subject", "user", "created_at", "last_signed_in_at")
    search_fields = ("subject", "user__email")
    list_select_related = ("user",)
