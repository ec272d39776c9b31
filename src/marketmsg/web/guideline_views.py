"""Check a draft against the communication guidelines while the seller types (SPEC F10)."""

from __future__ import annotations

from types import SimpleNamespace

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from marketmsg.conversations import screening
from marketmsg.conversations.errors import FormProblem, GuidelinesProblem
from marketmsg.conversations.models import Message
from marketmsg.policy import guidelines
from marketmsg.web import access
from marketmsg.web.access import seller_only

MAX_CHECKED = 20_000


def highlighted(text: str, findings: tuple[guidelines.Finding, ...]) -> SafeString:
    """The draft, escaped, with each finding's span marked (overlapping spans merged)."""
    spans: list[list[int]] = []
    for finding in sorted((f for f in findings if f.start >= 0), key=lambda f: f.start):
        if spans and finding.start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], finding.end)
        else:
            spans.append([finding.start, finding.end])
    pieces: list[str] = []
    at = 0
    for start, end in spans:
        pieces.append(escape(text[at:start]))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    pieces.append(escape(text[at:]))
    return mark_safe("".join(pieces).replace("\n", "<br>"))  # every piece is escaped


def marked_body(message: Message) -> SafeString:
    """A blocked message's text with the words that blocked it marked, from the stored decision."""
    findings = tuple(
        SimpleNamespace(**f) for f in message.guideline_findings if f.get("severity") == guidelines.BLOCK
    )
    return highlighted(message.text, findings)  # type: ignore[arg-type]


def shown(text: str, findings: tuple[guidelines.Finding, ...]) -> dict[str, object]:
    """What _guideline_findings.html shows for a draft."""
    return {
        "text": text.strip(),
        "findings": findings,
        "highlighted": highlighted(text, findings),
        # Findings that stop the message (not just a warning or a removal): 送信 waits (app.js).
        "blocking": any(f.severity == guidelines.BLOCK for f in findings),
    }


def after_problem(problem: FormProblem | None, text: str) -> dict[str, object] | None:
    """The findings to show under the form when the guidelines blocked what was just sent."""
    if isinstance(problem, GuidelinesProblem) and problem.findings:
        return shown(text, problem.findings)
    return None


@seller_only
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    """The draft's findings as the seller types; in a conversation, words the buyer wrote first are
    excused exactly as when the message is sent."""
    text = request.POST.get("text", "")[:MAX_CHECKED]
    conversation = None
    if request.POST.get("conversation", "").isdigit():
        conversation = access.seller_conversation(request, int(request.POST["conversation"]))
    verdict = screening.check_draft(text, conversation=conversation)
    return render(request, "web/_guideline_findings.html", shown(text, verdict.findings))
