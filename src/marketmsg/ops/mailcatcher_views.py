"""The development mail catcher's pages: what the demo's smarthost caught, rendered safely."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from marketmsg.mail import parsing
from marketmsg.mail.scrub import sanitize_html
from marketmsg.ops.mailcatcher import caught

_KEY = re.compile(r"^\d{1,25}$")


def _catcher_dir() -> Path:
    if not settings.MAILCATCHER_DIR:
        raise Http404("The mail catcher is not enabled (MARKETMSG_MAILCATCHER_DIR).")
    return Path(settings.MAILCATCHER_DIR)


def mailcatcher_list(request: HttpRequest) -> HttpResponse:
    mails = []
    for mail in caught(_catcher_dir()):
        message = parsing.parse(mail.path.read_bytes())
        mails.append(
            {
                "key": mail.key,
                "received": datetime.fromtimestamp(mail.received_at, tz=UTC),
                "rcpt": ", ".join(mail.rcpt_tos),
                "from": parsing.header_text(message, "From"),
                "subject": parsing.header_text(message, "Subject"),
            }
        )
    return render(request, "ops/mailcatcher_list.html", {"mails": mails})


def _caught_bytes(key: str) -> bytes:
    path = _catcher_dir() / f"{key}.eml"
    if not _KEY.match(key) or not path.is_file():
        raise Http404("No such caught message.")
    return path.read_bytes()


def mailcatcher_detail(request: HttpRequest, key: str) -> HttpResponse:
    raw = _caught_bytes(key)
    message = parsing.parse(raw)
    body = parsing.bodies(message)
    attachments = [
        {"name": parsing.filename_of(p), "type": p.get_content_type()}
        for p in parsing.walk(message)
        if not p.is_multipart() and (p.get_content_disposition() == "attachment" or parsing.filename_of(p))
    ]
    headers = [(k, parsing.header_text(message, k)) for k in dict.fromkeys(message.keys())]
    return render(
        request,
        "ops/mailcatcher_detail.html",
        {
            "key": key,
            "headers": headers,
            "text": body.text,
            "html": sanitize_html(body.html) if body.html else "",
            "attachments": attachments,
        },
    )


def mailcatcher_raw(request: HttpRequest, key: str) -> HttpResponse:
    return HttpResponse(_caught_bytes(key), content_type="text/plain; charset=utf-8")
