"""Response headers that keep a message's content from acting in the browser.

Message bodies, subjects, file names and templates come from strangers. They are escaped (and
HTML is sanitised with nh3), and on top of that the Content-Security-Policy lets a page run only
scripts and styles served by marketmsg itself: no inline script, no inline style, no plug-ins,
no framing by other sites, and forms that post only back to us. Django's SecurityMiddleware adds
the rest (nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, HSTS on HTTPS requests).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
