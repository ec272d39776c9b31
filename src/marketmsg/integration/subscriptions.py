"""Webhook subscriptions through the operator API (scope ``webhooks``)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from ninja import Router, Status

from marketmsg.apikit.problems import Problem
from marketmsg.integration.auth import needs
from marketmsg.integration.schemas import (
    ERRORS,
    DeliveryOut,
    SecretOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
    subscription_out,
)
from marketmsg.webhooks import manage
from marketmsg.webhooks.models import Subscription, WebhookDelivery

router = Router(tags=["webhooks"])


def _needs(request: HttpRequest) -> None:
    needs(request, "webhooks")


def _found(subscription_id: int) -> Subscription:
    found = Subscription.objects.filter(pk=subscription_id).first()
    if found is None:
        raise Problem(404, "not_found", "Not found", f"No webhook subscription {subscription_id}.")
    return found


def _pending(subscription: Subscription) -> int:
    return WebhookDelivery.objects.filter(
        subscription=subscription, state=WebhookDelivery.State.PENDING
    ).count()


def _invalid(error: manage.Invalid) -> Problem:
    return Problem(
        422, "invalid_subscription", "Subscription not saved", f"{error.field} {error}", field=error.field
    )


@router.get("/subscriptions", response={200: list[SubscriptionOut], **ERRORS}, summary="List subscriptions")
def list_subscriptions(request: HttpRequest) -> list[dict[str, Any]]:
    _needs(request)
    found = Subscription.objects.annotate(
        waiting=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.PENDING))
    ).order_by("id")
    return [subscription_out(s, s.waiting) for s in found]


@router.post("/subscriptions", response={201: SecretOut, **ERRORS}, summary="Subscribe")
def create_subscription(request: HttpRequest, body: SubscriptionIn) -> Status:
    """Returns the signing secret once; verify deliveries with any Standard Webhooks library."""
    _needs(request)
    try:
        subscription = Subscription.objects.create(
            name=body.name,
            url=manage.check_url(body.url),
            events=manage.check_events(body.events),
            include_bodies=body.include_bodies,
            contact_email=manage.check_contact(body.contact_email),
        )
    except manage.Invalid as error:
        raise _invalid(error) from error
    return Status(201, {"id": subscription.pk, "secret": subscription.secret, "previous_valid_until": None})


@router.get(
    "/subscriptions/{subscription_id}", response={200: SubscriptionOut, **ERRORS}, summary="One subscription"
)
def get_subscription(request: HttpRequest, subscription_id: int) -> dict[str, Any]:
    _needs(request)
    subscription = _found(subscription_id)
    return subscription_out(subscription, _pending(subscription))


@router.patch(
    "/subscriptions/{subscription_id}",
    response={200: SubscriptionOut, **ERRORS},
    summary="Change, disable or enable",
)
def patch_subscription(request: HttpRequest, subscription_id: int, body: SubscriptionPatch) -> dict[str, Any]:
    _needs(request)
    subscription = _found(subscription_id)
    try:
        if body.name is not None:
            subscription.name = body.name
        if body.url is not None:
            subscription.url = manage.check_url(body.url)
        if body.events is not None:
            subscription.events = manage.check_events(body.events)
        if body.include_bodies is not None:
            subscription.include_bodies = body.include_bodies
        if body.contact_email is not None:
            subscription.contact_email = manage.check_contact(body.contact_email)
    except manage.Invalid as error:
        raise _invalid(error) from error
    subscription.save(update_fields=["name", "url", "events", "include_bodies", "contact_email"])
    if body.state == Subscription.State.ACTIVE and subscription.state != body.state:
        manage.enable(subscription)
    elif body.state == Subscription.State.DISABLED and subscription.state != body.state:
        manage.disable(subscription, "disabled through the operator API")
    return subscription_out(subscription, _pending(subscription))


@router.post(
    "/subscriptions/{subscription_id}/rotate-secret",
    response={200: SecretOut, **ERRORS},
    summary="Rotate the secret",
)
def rotate(request: HttpRequest, subscription_id: int) -> dict[str, Any]:
    """A new secret. For 24 hours every delivery carries signatures with both secrets."""
    _needs(request)
    subscription = _found(subscription_id)
    secret = manage.rotate_secret(subscription)
    return {
        "id": subscription.pk,
        "secret": secret,
        "previous_valid_until": subscription.previous_secret_until,
    }


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response={200: list[DeliveryOut], **ERRORS},
    summary="The delivery log",
)
def deliveries(
    request: HttpRequest, subscription_id: int, state: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    """Newest first, each with its attempts (status, error, time taken)."""
    _needs(request)
    found = WebhookDelivery.objects.filter(subscription=_found(subscription_id)).select_related("event")
    if state:
        found = found.filter(state=state)
    shown = list(found.prefetch_related("attempts_made").order_by("-id")[: max(1, min(limit, 500))])
    return [_delivery_out(d) for d in shown]


@router.post(
    "/deliveries/{delivery_id}/replay", response={200: DeliveryOut, **ERRORS}, summary="Send an event again"
)
def replay(request: HttpRequest, delivery_id: int) -> dict[str, Any]:
    _needs(request)
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).select_related("event").first()
    if delivery is None:
        raise Problem(404, "not_found", "Not found", f"No webhook delivery {delivery_id}.")
    manage.replay(delivery)
    delivery.refresh_from_db()
    return _delivery_out(delivery)


def _delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "event_id": delivery.event.event_id,
        "type": delivery.event.type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at if delivery.state == "pending" else None,
        "delivered_at": delivery.delivered_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "history": [
            {"at": a.at, "status": a.status, "error": a.error, "milliseconds": a.milliseconds}
            for a in delivery.attempts_made.all().order_by("id")
        ],
    }
