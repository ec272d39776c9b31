"""Templates and alternate sender addresses through the API (SPEC F5, F12)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status

from marketmsg.accounts.models import SellerUser
from marketmsg.addresses.models import SenderAddress
from marketmsg.api.auth import needs, shop_of
from marketmsg.api.schemas import MetricsOut, SenderAddressOut, TemplateIn, TemplateOut
from marketmsg.apikit.problems import Problem, ProblemOut, not_found
from marketmsg.conversations import senders, templating
from marketmsg.conversations.errors import FormProblem
from marketmsg.conversations.models import Template
from marketmsg.metrics import response_times as times

router = Router()
ERRORS: dict[int, Any] = {401: ProblemOut, 403: ProblemOut, 404: ProblemOut, 422: ProblemOut, 429: ProblemOut}


def _template(request: HttpRequest, template_id: int, scope: str) -> Template:
    found = Template.objects.filter(pk=template_id, account=shop_of(needs(request, scope))).first()
    if found is None:
        raise not_found("template")
    return found


def _saved(request: HttpRequest, body: TemplateIn, template: Template | None = None) -> Template:
    user = needs(request, "write")
    try:
        return templating.save(shop_of(user), user, body.name, body.text, template)
    except FormProblem as error:
        raise Problem(
            422, "invalid_template", "Template not saved", str(error.text), field=error.field
        ) from error


@router.get("/templates", response={200: list[TemplateOut], **ERRORS}, tags=["templates"])
def list_templates(request: HttpRequest) -> list[Template]:
    """The shop's templates (定型文), by name."""
    return list(Template.objects.filter(account=shop_of(needs(request, "read"))).order_by("name", "pk"))


@router.post("/templates", response={201: TemplateOut, **ERRORS}, tags=["templates"])
def create_template(request: HttpRequest, body: TemplateIn) -> Status[Template]:
    """A new template; placeholders are {buyer_name}, {order_id}, {asin}, {product_title}, {seller_name}."""
    return Status(201, _saved(request, body))


@router.get("/templates/{template_id}", response={200: TemplateOut, **ERRORS}, tags=["templates"])
def read_template(request: HttpRequest, template_id: int) -> Template:
    return _template(request, template_id, "read")


@router.put("/templates/{template_id}", response={200: TemplateOut, **ERRORS}, tags=["templates"])
def update_template(request: HttpRequest, template_id: int, body: TemplateIn) -> Template:
    return _saved(request, body, _template(request, template_id, "write"))


@router.delete("/templates/{template_id}", response={204: None, **ERRORS}, tags=["templates"])
def delete_template(request: HttpRequest, template_id: int) -> HttpResponse:
    _template(request, template_id, "write").delete()
    return HttpResponse(status=204)


@router.get("/addresses", response={200: list[SenderAddressOut], **ERRORS}, tags=["addresses"])
def list_addresses(request: HttpRequest) -> list[SenderAddress]:
    """The shop's alternate sender addresses (代替アドレス) and whether each may write to buyers."""
    return list(SenderAddress.objects.filter(account=shop_of(needs(request, "read"))).order_by("email"))


def _set_state(request: HttpRequest, address_id: int, state: str) -> SenderAddress:
    user = needs(request, "write")
    membership = SellerUser.objects.select_related("account").get(user=user)
    found = SenderAddress.objects.filter(pk=address_id, account=membership.account).first()
    if found is None:
        raise not_found("sender address")
    if not membership.is_owner:
        raise Problem(
            403,
            "owner_only",
            "Only the account owner",
            "Only the seller account's owner may approve or block sender addresses.",
        )
    return senders.move(membership.account, [found.email], state, user)[0].sender


@router.post(
    "/addresses/{address_id}/approve", response={200: SenderAddressOut, **ERRORS}, tags=["addresses"]
)
def approve_address(request: HttpRequest, address_id: int) -> SenderAddress:
    """Let this address write to buyers (owner only); its held messages are delivered, oldest
    first. Addresses are never deleted."""
    return _set_state(request, address_id, SenderAddress.State.APPROVED)


@router.post("/addresses/{address_id}/block", response={200: SenderAddressOut, **ERRORS}, tags=["addresses"])
def block_address(request: HttpRequest, address_id: int) -> SenderAddress:
    """Refuse mail from this address to buyers (owner only); its held messages are never
    delivered, and the address is told once."""
    return _set_state(request, address_id, SenderAddress.State.BLOCKED)


class MetricsParams(Schema):
    days: int = 30


@router.get("/metrics", response={200: MetricsOut, **ERRORS}, tags=["metrics"])
def response_times(request: HttpRequest, params: Query[MetricsParams]) -> dict[str, Any]:
    """The shop's response-time figures for the last 7, 30 or 90 days (SPEC F6), as on the
    performance page: shares on time and late, average and median seconds, still unanswered."""
    if params.days not in times.PERIODS:
        raise Problem(422, "invalid_request", "Invalid request", "days is 7, 30 or 90.", field="days")
    return times.figures(shop_of(needs(request, "read")).pk, params.days).as_dict()
