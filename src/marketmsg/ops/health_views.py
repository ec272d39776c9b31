"""Probes for load balancers and orchestrators: ``/healthz`` (the process answers) and ``/readyz``
(it can do its work: the database answers and every migration is applied); and ``/metrics`` for
Prometheus. No sign-in, no session, nothing about any message or address in the answers."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST

from marketmsg import observability


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        waiting = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        problems.append(f"database unreachable ({type(error).__name__}); check MARKETMSG_DATABASE_URL")
    else:
        if waiting:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in waiting[:5])
            problems.append(f"{len(waiting)} migration(s) not applied ({names}); run: marketmsg migrate")
    if problems:
        return JsonResponse({"status": "not ready", "problems": problems}, status=503)
    return JsonResponse({"status": "ready"})


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this machine's counters and the delivery queue. With
    ``MARKETMSG_METRICS_TOKEN`` set, the scraper must send it as a bearer token."""
    if settings.METRICS_TOKEN:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), settings.METRICS_TOKEN.encode()):
            return HttpResponse(
                "401 Unauthorized: send Authorization: Bearer <MARKETMSG_METRICS_TOKEN>\n",
                status=401,
                content_type="text/plain",
            )
    return HttpResponse(observability.exposition(), content_type=CONTENT_TYPE_LATEST)
