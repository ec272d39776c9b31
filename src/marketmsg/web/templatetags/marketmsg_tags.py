"""Template helpers that lists call once per row, kept in Python because rows are many."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from marketmsg.conversations import screening
from marketmsg.conversations.models import Message

register = template.Library()

# (css class, icon, label) for each state a list shows (SPEC F2).
_BADGES = {
    "no_reply_needed": ("quiet", "🔕", _("No response needed")),
    "needs_reply": ("needs", "❗", _("Response needed")),
    "auto": ("quiet", "🤖", _("Auto-reply")),
    "replied": ("ok", "✔", _("Replied")),
    "held": ("warn", "⏸", _("Held")),
    "blocked": ("bad", "⛔", _("Blocked")),
    "failed": ("bad", "✖", _("Delivery failed")),
    "suppressed": ("quiet", "🤖", _("Auto-reply suppressed")),
    "sent": ("ok", "✔", _("Sent")),
}


def state_of(message: Message) -> str:
    if message.author == Message.Author.BUYER:
        if message.marked_no_reply_at is not None:
            return "no_reply_needed"
        if message.needs_reply:
            return "needs_reply"
        return "auto" if message.is_auto else "replied"
    if message.state in (Message.State.HELD, Message.State.BLOCKED, Message.State.SUPPRESSED):
        return str(message.state)
    return "failed" if getattr(message, "delivery_failed", False) else "sent"


@register.simple_tag
def state_badge(message: Message) -> SafeString:
    css, icon, label = _BADGES[state_of(message)]
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
