"""The seller's pages: message center, conversation and reply, Manage orders, order report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib import messages as notices
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from marketmsg.addresses import order_report as report
from marketmsg.conversations import compose, screening
from marketmsg.conversations.listing import (
    PAGE_SIZES,
    ListQuery,
    messages_for,
    parse_day,
    row_facts,
    start_of,
)
from marketmsg.conversations.models import Attachment, Message, Template
from marketmsg.conversations.services import existing_conversation
from marketmsg.delivery import status as delivery_status
from marketmsg.metrics import urgency
from marketmsg.orders import identifiers
from marketmsg.orders.models import Order
from marketmsg.web import access, guideline_views, list_chips, quick_mark_views, thread
from marketmsg.web.access import seller_only
from marketmsg.web.templatetags.marketmsg_tags import state_badge

ORDERS_PER_PAGE = 25
REPORT_MAX_DAYS = 366


@seller_only
def message_list(request: HttpRequest) -> HttpResponse:
    """The seller message center's list (SPEC F2); every view lives in the URL."""
    query = ListQuery.from_params(request.GET)
    page = Paginator(messages_for(access.seller_account(request), query), query.per_page).get_page(query.page)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "web/seller_messages.html",
        {
            "query": query,
            "page": page,
            "rows": _rows(list(page.object_list)),
            "page_sizes": PAGE_SIZES,
            "params": params.urlencode(),
            "chips": list_chips.chips(query, request.GET),
            "undo_offer": quick_mark_views.undo_offer(request),
            "here": request.get_full_path(),
            "widen_url": list_chips.widen_url(query),
        },
    )


@dataclass(frozen=True)
class Row:
    """One list row, ready to print: a page has up to 100 and the template only copies strings."""

    date: str
    buyer: str
    order_id: str
    asins: str
    subject: str
    url: str
    message_id: int
    badge: str
    attachments: bool
    unanswered: bool
    time_left: urgency.TimeLeft | None


def _rows(messages: list[Message]) -> list[Row]:
    facts = row_facts(messages)
    if any(m.author == Message.Author.SELLER for m in messages):  # the Sent box says what became of each
        delivery_status.attach(messages)
    base = reverse("seller-messages")
    now = timezone.now()
    rows = []
    for m in messages:
        about = facts[m.conversation_id]
        rows.append(
            Row(
                date=timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M"),
                buyer=about.buyer_name,
                order_id=about.order_id or "—",
                asins=" ".join(about.asins) or "—",
                subject=m.subject,
                url=f"{base}{m.conversation_id}/#m{m.pk}",
                message_id=m.pk,
                badge=state_badge(m),
                attachments=m.has_attachments,
                unanswered=m.needs_reply,
                time_left=urgency.time_left(m.created_at, now) if m.needs_reply else None,
            )
        )
    return rows


@seller_only
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The whole conversation with the order's items, and the reply box."""
    found = access.seller_conversation(request, conversation_id)
    problem: compose.FormProblem | None = None
    if request.method == "POST":
        text = request.POST.get("text", "")
        try:
            sent = compose.seller_reply(
                access.user_of(request),
                found,
                text,
                no_reply_needed=bool(request.POST.get("no_reply_needed")),
                files=request.FILES.getlist("files"),
                carried=[int(v) for v in request.POST.getlist("carry") if v.isdigit() and len(v) < 19],
            )
        except compose.FormProblem as error:
            problem = error
        else:
            if sent is None:
                notices.success(request, _("Marked as no response needed. Nothing was sent to the buyer."))
            else:
                notices.success(request, _("Your reply was sent to the buyer."))
            return redirect("seller-conversation", conversation_id=found.pk)
    return render(
        request,
        "web/conversation.html",
        _picker(request, conversation=str(found.pk))
        | thread.context(
            found,
            reader=Message.Author.SELLER,
            problem=problem,
            draft=request.POST.get("text", ""),
            show_all="all" in request.GET,
        )
        | {
            "guideline": guideline_views.after_problem(problem, request.POST.get("text", "")),
            "kept_files": _kept_files(problem),
        },
    )


def _kept_files(problem: compose.FormProblem | None) -> list[Attachment]:
    """The files of a reply the guidelines just blocked: they go with the next try (unticked: not)."""
    blocked_id = getattr(problem, "blocked_id", None)
    if blocked_id is None:
        return []
    return list(Attachment.objects.filter(message_id=blocked_id, removed_at__isnull=True).order_by("pk"))


def _picker(request: HttpRequest, **about: str) -> dict[str, object]:
    """The shop's templates for the picker, and what the picker fills them in for."""
    return {
        "templates": Template.objects.filter(account=access.seller_account(request)).order_by("name"),
        "picker_for": json.dumps(about),
    }


@seller_only
def manage_orders(request: HttpRequest) -> HttpResponse:
    """Orders › Manage orders, with a "Contact buyer" column (the buyer's name opens the compose page)."""
    search = request.GET.get("q", "").strip()[:40]
    orders = Order.objects.filter(seller=access.seller_account(request))
    if search:
        product = identifiers.product_id(search) or search
        orders = orders.filter(Q(order_id=search) | Q(items__asin=product)).distinct()
    orders = orders.select_related("buyer__user").prefetch_related("items").order_by("-ordered_at", "-id")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/manage_orders.html", {"page": page, "search": search})


@seller_only
def contact_buyer(request: HttpRequest, order_id: str) -> HttpResponse:
    order = access.seller_order(request, order_id)
    problem: compose.FormProblem | None = None
    subject = request.POST.get("subject", compose.default_subject(order))
    text = request.POST.get("text", "")
    reason = request.POST.get("reason") or "other"
    if request.method == "POST":
        try:
            files = request.FILES.getlist("files")
            sent = compose.contact_buyer(access.user_of(request), order, subject, text, files, reason)
        except compose.FormProblem as error:
            problem = error
        else:
            notices.success(request, _("Your message was sent to the buyer."))
            return redirect("seller-conversation", conversation_id=sent.conversation_id)
    existing = existing_conversation(order.seller_id, order.buyer_id, order.pk, "")
    return render(
        request,
        "web/contact_buyer.html",
        {
            "order": order,
            "subject": subject,
            "text": text,
            "problem": problem,
            "reason": reason,
            "reasons": [(key, label) for key, (_ja, label) in screening.REASONS.items()],
            "existing": existing,
            "opted_out": screening.declined(order.buyer, "", existing),
            "guideline": guideline_views.after_problem(problem, text),
        }
        | _picker(request, order=order.order_id),
    )


@seller_only
def order_report(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """注文レポート: a form for the period; with ``download`` it answers the TSV or CSV file."""
    today = timezone.localdate()
    errors: list[str] = []
    first = _day(request.GET.get("from"), today - timedelta(days=30), errors)
    last = _day(request.GET.get("to"), today, errors)
    kind = request.GET.get("format", "tsv")
    if kind not in ("tsv", "csv"):
        errors.append(_("Choose TSV or CSV as the file format."))
    if first > last:
        errors.append(
            _("The start date is after the end date. Choose a start date on or before the end date.")
        )
    elif (last - first).days >= REPORT_MAX_DAYS:
        errors.append(
            _("A report covers at most %(days)d days. Choose a shorter period.") % {"days": REPORT_MAX_DAYS}
        )
    if "download" in request.GET and not errors:
        rows = report.report_rows(
            access.seller_account(request), start_of(first), start_of(last + timedelta(1))
        )
        response = StreamingHttpResponse(
            (line.encode("utf-8") for line in report.encode(rows, kind)),
            content_type=f"text/{'tab-separated-values' if kind == 'tsv' else 'csv'}; charset=utf-8",
        )
        name = f"order-report-{first:%Y%m%d}-{last:%Y%m%d}.{kind}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(
        request,
        "web/order_report.html",
        {"first": first, "last": last, "kind": kind, "errors": errors},
        status=400 if "download" in request.GET and errors else 200,
    )


def _day(text: str | None, default: date, errors: list[str]) -> date:
    return parse_day(text or "", errors) or default
