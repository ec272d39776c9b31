"""The communication guidelines applied to a seller's message before it is stored (SPEC F10).

``screen`` turns the pure check (policy.guidelines) into the pipeline's decision for one draft:
the site's rules (the built-in file or the operator's, with our own relay and web host names
allowed), words the buyer wrote first excused (a reply quoting the buyer's own phone number or
link is not blocked for it), contact details removed where the rules say "remove", and the buyer's
opt-out of messages a seller starts unprompted. ``post_message`` stores the result: a blocked
message is kept with the rules that fired and never delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from marketmsg.accounts.models import Buyer
from marketmsg.conversations.models import Conversation, Message
from marketmsg.policy import guidelines
from marketmsg.policy.guidelines import Verdict

if TYPE_CHECKING:
    from marketmsg.conversations.drafts import Draft

OPTED_OUT = "buyer_opted_out"

# Why a seller writes first (Contact buyer). Only a problem with the order reaches a buyer who
# declined unprompted messages; "other" does not.
REASONS = {
    "delivery": ("配送の問題", _("A problem with the delivery")),
    "cannot_ship": ("出荷できない商品", _("An item cannot be shipped as ordered")),
    "confirm": ("ご注文内容の確認", _("The address or order details need checking")),
    "return": ("返品・返金", _("A return or refund")),
    "other": ("その他", _("Something else")),
}
ORDER_PROBLEMS = frozenset(REASONS) - {"other"}

# How many of the buyer's latest messages a reply may quote from without being blocked for it.
QUOTED_MESSAGES = 20


@cache
def site_rules() -> guidelines.Rules:
    path = Path(settings.GUIDELINES_FILE) if settings.GUIDELINES_FILE else guidelines.RULES_FILE
    own = [settings.RELAY_DOMAIN, settings.MOBILE_RELAY_DOMAIN, urlsplit(settings.PUBLIC_URL).hostname or ""]
    return guidelines.allowing(guidelines.load(path), own)


@dataclass(frozen=True)
class Screening:
    verdict: Verdict
    text: str  # as it will be stored and delivered: removed contact details replaced
    html: str
    blocked_rules: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_rules)

    @property
    def opted_out(self) -> bool:
        return OPTED_OUT in self.blocked_rules

    def blocked_too(self, rules: tuple[str, ...]) -> Screening:
        """Blocked with another copy's rules as well: one mail is delivered to all or to none."""
        return replace(self, blocked_rules=tuple(dict.fromkeys(self.blocked_rules + rules)))

    def recorded(self) -> dict[str, Any]:
        """The Message fields that keep this decision."""
        fired = self.blocked_rules or tuple(self.verdict.rules(guidelines.REMOVE))
        return {
            "guideline_rules": " ".join(fired)[:200],
            "guideline_findings": [
                # PostgreSQL's jsonb cannot hold a NUL character, which broken mail may carry.
                {
                    "rule": f.rule,
                    "severity": f.severity,
                    "start": f.start,
                    "end": f.end,
                    "text": f.text[:200].replace("\x00", "\ufffd"),
                }
                for f in self.verdict.findings
            ],
        }


def check_draft(text: str, html: str = "", conversation: Conversation | None = None) -> Verdict:
    """The findings for a seller's draft in ``conversation``, words the buyer wrote first excused."""
    verdict = guidelines.check(text, html, site_rules())
    if verdict.findings and conversation is not None and conversation.pk is not None:
        verdict = guidelines.excused(verdict, _buyer_said(conversation))
    return verdict


def screen(draft: Draft, conversation: Conversation | None) -> Screening:
    """The decision for a seller's draft; ``conversation`` is None when it starts a new one.

    Every text the buyer will read is checked: the body, the HTML as received (its images and
    links included, which the stored copy no longer has), the subject, further text parts, text
    files and forwarded mail. Only the body's findings can be removed in place; elsewhere a rule
    set to "remove" blocks, as there is no copy without the words to deliver."""
    received_html = draft.mail.html_as_received if draft.mail else ""
    verdict = check_draft(draft.text, received_html or draft.html, conversation)
    blocked = verdict.rules(guidelines.BLOCK)
    elsewhere = _elsewhere(draft, conversation)
    blocked += [f.rule for f in elsewhere if f.severity != guidelines.WARN and f.rule not in blocked]
    verdict = guidelines.Verdict(verdict.findings + tuple(replace(f, start=-1, end=-1) for f in elsewhere))
    if declined(draft.buyer, draft.reason, conversation):
        blocked.append(OPTED_OUT)
    text, html = draft.text, draft.html
    if verdict.removals and not blocked:  # a blocked message is kept as written, for staff to judge
        text = guidelines.redacted(text, verdict)
        if html:  # the HTML's own positions: the same rules run over its source
            html = guidelines.redacted(html, guidelines.check(html, rules=site_rules()))
    return Screening(verdict=verdict, text=text, html=html, blocked_rules=tuple(blocked))


def _elsewhere(draft: Draft, conversation: Conversation | None) -> tuple[guidelines.Finding, ...]:
    """Findings in the texts besides the body (subject, other parts, files, forwarded mail)."""
    found: list[guidelines.Finding] = []
    for text in (draft.subject, *(draft.mail.other_texts if draft.mail else ())):
        if text.strip():
            found += check_draft(text, "", conversation).findings
    return tuple(found)


def declined(buyer: Buyer, reason: str, conversation: Conversation | None) -> bool:
    """The buyer opted out of unprompted messages, and this one neither answers them nor is about
    a problem with the order."""
    if not buyer.declines_unprompted or reason in ORDER_PROBLEMS:
        return False
    return conversation is None or conversation.pk is None or not _buyer_has_written(conversation)


def _buyer_said(conversation: Conversation) -> list[str]:
    said = (
        Message.objects.filter(conversation=conversation, author=Message.Author.BUYER)
        .order_by("-created_at", "-id")
        .values_list("text", "html")[:QUOTED_MESSAGES]
    )
    return [piece for text, html in said for piece in (text, html) if piece]


def _buyer_has_written(conversation: Conversation) -> bool:
    return Message.objects.filter(conversation=conversation, author=Message.Author.BUYER).exists()
