"""A page that says in Japanese and English what happened and what to do next: the error pages of
the web (web.errors) and the sign-in refusals (sso.pages) both use it, so neither edge imports the
other. Standalone (no base template, no user, no query): it renders when the database is down."""

from __future__ import annotations

from django.http import HttpResponse
from django.template import loader


def bilingual_page(
    code: int,
    icon: str,
    title_ja: str,
    title_en: str,
    text_ja: str,
    text_en: str,
    sign_in_again: bool = False,
) -> HttpResponse:
    """A 503 also asks to come back in a minute (Retry-After)."""
    context = {
        "code": code, "icon": icon, "title_ja": title_ja, "title_en": title_en,
        "text_ja": text_ja, "text_en": text_en, "again": sign_in_again,
    }  # fmt: skip
    response = HttpResponse(loader.render_to_string("web/error.html", context), status=code)
    if code == 503:
        response["Retry-After"] = "60"
    return response
