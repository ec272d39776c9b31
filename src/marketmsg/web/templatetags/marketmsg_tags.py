"""Template helpers that lists call once per row, kept in Python because rows are many."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from marketmsg.conversations import screening
from marketmsg.conversations.models import Message
from marketmsg.delivery import status
from marketmsg.orders.models import Order

register = template.Library()

# (css class, icon, label) for each state a list shows (SPEC F2).
_BADGES = {
    "no_reply_needed": ("quiet", "🔕", _("No response needed")),
    "needs_reply": ("needs", "❗", _("Response needed")),
    "auto": ("quiet", "🤖", _("Auto-reply")),
    "replied": ("ok", "✔", _("Replied")),
    "held": ("warn", "⏸", _("Held")),
    "blocked": ("bad", "⛔", _("Blocked")),
    "withheld": ("bad", "⛔", _("Not delivered (sender blocked)")),
    "suppressed": ("quiet", "🤖", _("Auto-reply suppressed")),
    "customer_service": ("quiet", "🎧", _("To marketplace customer service")),
    # What became of the mail (delivery.status), for the one who wrote it.
    "delivered": ("ok", "✔", _("Delivered")),
    "sending": ("quiet", "📤", _("Sending")),
    "retrying": ("warn", "⏳", _("Retrying")),
    "failed": ("bad", "✖", _("Delivery failed")),
    "sent": ("ok", "✔", _("Sent")),
}

# A message in one of these states was never sent: the state says why.
_NOT_SENT = {
    Message.State.HELD: "held",
    Message.State.BLOCKED: "blocked",
    Message.State.WITHHELD: "withheld",
    Message.State.SUPPRESSED: "suppressed",
    Message.State.CUSTOMER_SERVICE: "customer_service",
}


def state_of(message: Message, reader: str = Message.Author.SELLER) -> str:
    """The badge of a message for ``reader``: a buyer message read by the seller says whether it
    awaits an answer; a message read by its own writer says what became of it."""
    if message.author == Message.Author.BUYER and reader == Message.Author.SELLER:
        if message.marked_no_reply_at is not None:
            return "no_reply_needed"
        if message.needs_reply:
            return "needs_reply"
        return "auto" if message.is_auto else "replied"
    if message.state in _NOT_SENT:
        return _NOT_SENT[Message.State(message.state)]
    found: status.DeliveryStatus | None = getattr(message, "delivery_status", None)
    if found is None or found.kind == status.Kind.NONE:
        return "sent"  # stored and shown on the web; no mail of its own to report on
    return str(found.kind.value)


@register.simple_tag
def state_badge(message: Message, reader: str = Message.Author.SELLER) -> SafeString:
    kind = state_of(message, reader)
    css, icon, label = _BADGES[kind]
    detail = ""
    found = getattr(message, "delivery_status", None)
    if kind == "retrying" and found is not None and found.next_try is not None:
        at = timezone.localtime(found.next_try).strftime("%m-%d %H:%M")
        detail = str(_("next try %(at)s")) % {"at": at}
    elif kind == "delivered" and found is not None and found.delivered < found.total:
        detail = str(_("%(delivered)d of %(total)d addresses")) % {
            "delivered": found.delivered,
            "total": found.total,
        }
    if detail:
        return format_html('<span class="state {}">{} {} · {}</span>', css, icon, label, detail)
    return format_html('<span class="state {}">{} {}</span>', css, icon, label)


_OPTED_OUT = _("the buyer receives only answers and messages about a problem with their order.")


@register.simple_tag
def guideline_reasons(message: Message) -> SafeString:
    """Why a message was blocked, one sentence per rule that fired, in the reader's language."""
    explanations = screening.site_rules().explanations
    english = (get_language() or "ja").startswith("en")
    sentences = [
        str(_OPTED_OUT) if rule == screening.OPTED_OUT else explanations.get(rule, ("", ""))[english] or rule
        for rule in message.guideline_rules.split()
    ]
    return format_html_join(" ", "<span>{}</span>", ((s,) for s in sentences))


@register.simple_tag
def percent(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f}%"


@register.simple_tag
def duration(seconds: float | None) -> str:
    """A response time as people say it: 3時間12分 / 3 h 12 min."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if (get_language() or "ja").startswith("en"):
        parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    else:
        parts = [f"{days}日" if days else "", f"{hours}時間" if hours else "", f"{minutes}分"]
    return " ".join(p for p in parts if p) if minutes or hours or days else parts[2]


_AUTH_CSS = {"pass": "ok", "fail": "bad", "softfail": "warn", "temperror": "warn", "permerror": "bad"}


@register.simple_tag
def sender_authentication(message: Message) -> SafeString:
    """SPF, DKIM and DMARC as the gateway found them (SPEC F1), for staff; empty for web and API
    messages, which have no sender to check."""
    verdict = message.authentication or {}
    if not verdict:
        return SafeString("")
    dkim = verdict.get("dkim") or []
    dkim_result = next((r for _, r in dkim if r == "pass"), dkim[0][1] if dkim else "none")
    parts = [
        ("SPF", verdict.get("spf", "none")),
        ("DKIM", dkim_result),
        ("DMARC", verdict.get("dmarc", "none")),
    ]
    title = _("Sender authentication") + (
        f" ({verdict['source']})" if str(verdict.get("source", "")).startswith("authserv:") else ""
    )
    return format_html(
        '<div class="auth" title="{}">🔐 {}</div>',
        title,
        format_html_join(
            " ",
            '<span class="state {}">{} {}</span>',
            ((_AUTH_CSS.get(r, "quiet"), name, r) for name, r in parts),
        ),
    )


# An order's status (as the marketplace last sent it), with the time it was reached.
_ORDER_STATUS = {
    "placed": ("quiet", "🧾"),
    "shipped": ("warn", "🚚"),
    "delivered": ("ok", "✔"),
    "cancelled": ("bad", "✖"),
    "returned": ("quiet", "↩"),
}


@register.simple_tag
def order_status(order: Order) -> SafeString:
    css, icon = _ORDER_STATUS.get(order.status, ("quiet", "•"))
    reached = getattr(order, f"{order.status}_at", None) if order.status != "placed" else None
    when = f" · {timezone.localtime(reached):%m-%d}" if reached else ""
    return format_html('<span class="state {}">{} {}{}</span>', css, icon, order.get_status_display(), when)


# A file's kind in words people use, instead of its MIME type (which is English jargon on a
# Japanese page). The allowed kinds are policy.attachments.KINDS.
_FILE_KINDS = {
    "text/plain": _("Text file"),
    "application/pdf": "PDF",
    "application/msword": _("Word document"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _("Word document"),
    "image/jpeg": _("Image (JPEG)"),
    "image/gif": _("Image (GIF)"),
    "image/bmp": _("Image (BMP)"),
    "image/png": _("Image (PNG)"),
}


@register.filter
def file_kind(content_type: str) -> str:
    return str(_FILE_KINDS.get(content_type.split(";")[0].strip().lower(), _("File")))
