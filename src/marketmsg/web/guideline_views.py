"""Check a draft against the communication guidelines while the seller types (SPEC F10)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from marketmsg.policy import guidelines
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


@seller_only
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    text = request.POST.get("text", "")[:MAX_CHECKED]
    verdict = guidelines.check(text)
    return render(
        request,
        "web/_guideline_findings.html",
        {
            "text": text.strip(),
            "findings": verdict.findings,
            "highlighted": highlighted(text, verdict.findings),
        },
    )
