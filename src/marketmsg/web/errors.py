"""Error pages in both languages, saying what happened and what to do next.

They are standalone (no base template, no user, no query), so that they still render when the
database is the thing that failed.
"""

from __future__ import annotations

import logging
import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from marketmsg.bilingual import bilingual_page

log = logging.getLogger(__name__)

PAGES = {
    403: ("⛔", "この操作は受け付けられませんでした", "This request was refused",
          "フォームの有効期限が切れたか、別のサイトから送信されました。ページを再読み込みしてから、もう一度お試しください。",
          "The form has expired or was sent from another site. Reload the page, then try again."),
    404: ("🔍", "ページが見つかりません", "Page not found",
          "アドレスが正しいか確認してください。リンクからたどった場合は、ホームからもう一度探してください。",
          "Check the address. If you followed a link, start again from the home page."),
    500: ("⚠", "問題が発生しました", "Something went wrong",
          "処理中に予期しないエラーが起きました。記録済みです。しばらくしてからもう一度お試しください。",
          "An unexpected error occurred and has been logged. Try again in a few minutes."),
    503: ("🛠", "メッセージサービスに一時的に接続できません", "The message service is briefly unavailable",
          "データベースに接続できません。送信済みのメッセージは失われません。数分後にページを再読み込みしてください。",
          "The database cannot be reached. Messages already sent are not lost. "
          "Reload the page in a few minutes."),
}  # fmt: skip


def error_page(request: HttpRequest | None, code: int) -> HttpResponse:
    return bilingual_page(code, *PAGES[code])


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_page(request, 403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django calls this inside its ``except`` block: a database that cannot be reached is a 503
    (come back soon), anything else a 500."""
    failure = sys.exc_info()[1]
    if isinstance(failure, DatabaseError):
        log.warning(
            "page %s not served: the database is unavailable (%s)", request.path, type(failure).__name__
        )
        return error_page(request, 503)
    return error_page(request, 500)
