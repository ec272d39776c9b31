from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from marketmsg.accounts.models import digest
from marketmsg.admin_base import KeptAdmin, ReadOnlyAdmin
from marketmsg.integration.models import SCOPES, ImportRun, OperatorCredential


class CredentialForm(forms.ModelForm):  # type: ignore[type-arg]
    scope_list = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(name, f"{name}: {meaning}") for name, meaning in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        initial=list(SCOPES),
    )

    class Meta:
        model = OperatorCredential
        fields = ("name",)


@admin.register(OperatorCredential)
class OperatorCredentialAdmin(KeptAdmin):
    form = CredentialForm
    list_display = ("id", "name", "shown_prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["name", "scope_list"] if obj is None else ["name", "scopes", "shown_prefix", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["scopes", "shown_prefix", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: OperatorCredential, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        issued, secret = OperatorCredential.issue(obj.name, form.cleaned_data["scope_list"])
        obj.pk, obj.token_digest = issued.pk, digest(secret)
        messages.warning(
            request,
            f"Operator credential: {secret} — copy it now, it is shown only once. "
            "/ この値は今だけ表示されます。",
        )

    @admin.action(description="Revoke the selected credentials / 失効させる")
    def revoke(self, request: HttpRequest, queryset: QuerySet[OperatorCredential]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"{count} credential(s) revoked; they stop working at once.")


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = (
        "source",
        "lines_done",
        "created",
        "updated",
        "unchanged",
        "refused",
        "started_at",
        "finished_at",
    )
