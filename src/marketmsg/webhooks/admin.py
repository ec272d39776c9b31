from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from marketmsg.admin_base import KeptAdmin, KeptInline, ReadOnlyAdmin
from marketmsg.webhooks import manage
from marketmsg.webhooks.models import EVENT_TYPES, Event, Subscription, WebhookAttempt, WebhookDelivery


class SubscriptionForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(max_length=2000, assume_scheme="https")
    event_list = forms.MultipleChoiceField(
        label="Events (none ticked: every event)",
        choices=[(name, f"{name} — {meaning}") for name, meaning in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Subscription
        fields = ("name", "url", "include_bodies", "contact_email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_list"].initial = self.instance.events.split()

    def clean_url(self) -> str:
        try:
            return manage.check_url(self.cleaned_data["url"])
        except manage.Invalid as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(Subscription)
class SubscriptionAdmin(KeptAdmin):
    form = SubscriptionForm
    list_display = ("id", "name", "url", "shown_state", "waiting", "failing_since", "created_at")
    list_filter = ("state",)
    readonly_fields = ("state", "disabled_at", "disabled_reason", "failing_since", "created_at")
    actions = ("enable", "disable", "rotate")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return (
            super()
            .get_queryset(request)
            .annotate(pending=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING)))
        )

    @admin.display(description="State")
    def shown_state(self, obj: Subscription) -> str:
        if obj.state == Subscription.State.ACTIVE:
            return format_html('<span style="color:#1a7f37">● {}</span>', "active / 有効")
        return format_html(
            '<span style="color:#cf222e" title="{}">⏸ {}</span>', obj.disabled_reason, "disabled / 停止"
        )

    @admin.display(description="Pending deliveries")
    def waiting(self, obj: Any) -> int:
        return int(getattr(obj, "pending", 0))

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        obj.events = manage.check_events(form.cleaned_data.get("event_list") or [])
        obj.save()
        if not change:
            messages.warning(
                request, f"Signing secret: {obj.secret} — give it to the receiver; it is shown only now."
            )

    @admin.action(description="Enable (send what piled up, in order) / 再開")
    def enable(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            manage.enable(subscription)
        messages.success(request, f"{queryset.count()} subscription(s) active.")

    @admin.action(description="Disable / 停止")
    def disable(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            manage.disable(subscription, f"disabled in the admin by {request.user}")
        messages.success(request, f"{queryset.count()} subscription(s) disabled; their events wait.")

    @admin.action(description="Rotate the signing secret / 署名鍵を更新")
    def rotate(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            secret = manage.rotate_secret(subscription)
            messages.warning(
                request,
                f"{subscription.name}: new secret {secret} (the old one signs 24 hours more). Shown once.",
            )


class AttemptInline(KeptInline):
    model = WebhookAttempt
    fields = ("at", "status", "error", "milliseconds")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "event_type",
        "event_id",
        "subscription",
        "shown_state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("state", "subscription", "event__type")
    search_fields = ("event__event_id", "ordering_key")
    list_select_related = ("event", "subscription")
    inlines = (AttemptInline,)
    actions = ("replay",)

    @admin.display(description="Event")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description="Event ID")
    def event_id(self, obj: WebhookDelivery) -> str:
        return obj.event.event_id

    @admin.display(description="State")
    def shown_state(self, obj: WebhookDelivery) -> str:
        if obj.state == WebhookDelivery.State.DELIVERED:
            return format_html('<span style="color:#1a7f37">✔ {}</span>', "delivered")
        if obj.attempts:
            return format_html(
                '<span style="color:#9a6700" title="{}">⏳ {}</span>', obj.last_error, "retrying"
            )
        return format_html("<span>📤 {}</span>", "pending")

    @admin.action(description="Replay: send again with the same event ID / 再送")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            manage.replay(delivery)
        messages.success(request, f"{queryset.count()} delivery(ies) queued again.")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_id", "type", "ordering_key", "created_at", "fanned_out")
    list_filter = ("type",)
    search_fields = ("event_id", "ordering_key")
