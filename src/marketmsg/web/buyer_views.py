"""The buyer's pages: orders, contacting a seller, product questions, conversations (SPEC F3)."""

from __future__ import annotations

from django.contrib import messages as notices
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.accounts.models import SellerAccount
from marketmsg.conversations import compose, visibility
from marketmsg.conversations.models import Conversation, Message
from marketmsg.orders import identifiers
from marketmsg.orders.models import Order, OrderItem
from marketmsg.web import access, thread
from marketmsg.web.access import buyer_only

PER_PAGE = 25


@buyer_only
def orders(request: HttpRequest) -> HttpResponse:
    buyer = access.buyer_of(request)
    rows = (
        Order.objects.filter(buyer=buyer)
        .select_related("seller")
        .prefetch_related("items")
        .order_by("-ordered_at", "-id")
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    talks = dict(
        visibility.buyer_conversations(buyer)
        .filter(order__in=list(page.object_list))
        .values_list("order_id", "id")
    )
    for order in page:
        order.conversation_id = talks.get(order.pk)  # type: ignore[attr-defined]
    return render(request, "web/buyer_orders.html", {"page": page})


@buyer_only
def contact_seller(request: HttpRequest, order_id: str) -> HttpResponse:
    order = access.buyer_order(request, order_id)
    problem: compose.FormProblem | None = None
    topic = request.POST.get("topic", request.GET.get("topic", ""))
    text = request.POST.get("text", "")
    if request.method == "POST":
        try:
            files = request.FILES.getlist("files")
            sent = compose.contact_seller(access.user_of(request), order, topic, text, files)
        except compose.FormProblem as error:
            problem = error
        else:
            _tell_who_answers(request, sent)
            return redirect("buyer-conversation", conversation_id=sent.conversation_id)
    return render(
        request,
        "web/contact_seller.html",
        {"order": order, "topics": compose.TOPICS, "topic": topic, "text": text, "problem": problem},
    )


@buyer_only
def ask_about_product(request: HttpRequest) -> HttpResponse:
    """Before purchase: pick an ASIN and one of the sellers offering it, and ask."""
    typed = request.GET.get("asin", request.POST.get("asin", "")).strip()[:40]
    asin = identifiers.product_id(typed) or typed
    problem: compose.FormProblem | None = None
    sellers: list[SellerAccount] = []
    if asin and not identifiers.is_product_id(asin):
        problem = compose.FormProblem("asin", _("An ASIN has 10 letters and digits, like B0C1X2Y3Z4."))
    elif asin:
        offering = OrderItem.objects.filter(asin=asin).values("order__seller_id").distinct()[:50]
        sellers = list(SellerAccount.objects.filter(pk__in=offering).order_by("name"))
        if not sellers:
            problem = compose.FormProblem(
                "asin", _("No seller offers this ASIN. Check the ASIN and try again.")
            )
    title = OrderItem.objects.filter(asin=asin).values_list("title", flat=True).first() if sellers else None
    text = request.POST.get("text", "")
    if request.method == "POST" and sellers:
        chosen = next((s for s in sellers if str(s.pk) == request.POST.get("seller")), None)
        try:
            if chosen is None:
                raise compose.FormProblem("seller", _("Choose the seller you want to ask."))
            sent = compose.ask_about_product(
                access.user_of(request), access.buyer_of(request), chosen, asin, text
            )
        except compose.FormProblem as error:
            problem = error
        else:
            notices.success(request, _("Your question was sent to the seller."))
            return redirect("buyer-conversation", conversation_id=sent.conversation_id)
    return render(
        request,
        "web/ask_product.html",
        {
            "asin": asin,
            "title": title,
            "sellers": sellers,
            "text": text,
            "problem": problem,
            "chosen": request.POST.get("seller", ""),
        },
    )


@buyer_only
def conversations(request: HttpRequest) -> HttpResponse:
    rows = visibility.buyer_conversations(access.buyer_of(request))
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/buyer_conversations.html", {"page": page})


@buyer_only
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    found = access.buyer_conversation(request, conversation_id)
    if request.method == "GET":  # what the buyer sees now is no longer new to them
        Conversation.objects.filter(pk=found.pk).update(buyer_read_at=timezone.now())
    problem: compose.FormProblem | None = None
    if request.method == "POST":
        try:
            text = request.POST.get("text", "")
            sent = compose.buyer_reply(access.user_of(request), found, text, request.FILES.getlist("files"))
        except compose.FormProblem as error:
            problem = error
        else:
            _tell_who_answers(request, sent)
            return redirect("buyer-conversation", conversation_id=found.pk)
    return render(
        request,
        "web/conversation.html",
        thread.context(
            found,
            reader=Message.Author.BUYER,
            problem=problem,
            draft=request.POST.get("text", ""),
            show_all="all" in request.GET,
        ),
    )


def _tell_who_answers(request: HttpRequest, sent: Message) -> None:
    if sent.state == Message.State.CUSTOMER_SERVICE:
        notices.info(
            request,
            _(
                "This order was shipped by the marketplace, so marketplace customer service will answer "
                "your message. It was not sent to the seller."
            ),
        )
    else:
        notices.success(request, _("Your message was sent to the seller."))
