"""Marketplace staff: sellers by response time, and one seller's response-time page as the seller
sees it (SPEC F6)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from marketmsg.accounts.models import SellerAccount
from marketmsg.console.access import staff_only
from marketmsg.metrics import response_times
from marketmsg.web import performance_views


@staff_only
def seller_performance(request: HttpRequest, seller_id: int) -> HttpResponse:
    seller = SellerAccount.objects.filter(pk=seller_id).first()
    if seller is None:
        raise Http404("No such seller.")
    return performance_views.page(request, seller, staff=True)


@staff_only
def ranking(request: HttpRequest) -> HttpResponse:
    """Every seller with messages due in the last 30 days, the weakest on-time share first."""
    figures = response_times.ranking(30)
    names = dict(SellerAccount.objects.filter(pk__in=[f[0] for f in figures]).values_list("pk", "name"))
    table = [
        {"id": s, "name": names.get(s, "?"), "due": due, "share": on_time / due}
        for s, due, on_time in sorted(figures, key=lambda f: (f[2] / f[1], -f[1]))
    ]
    return render(request, "console/performance.html", {"sellers": table})
