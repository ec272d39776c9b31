from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from marketmsg.api.v1 import api
from marketmsg.integration.api import api as operator_api

# Each audience's room is mounted side by side here — the seller and buyer pages (web), the staff
# console, the sellers' API, the operator's API, sign-in, and the operations endpoints (ops): no
# edge mounts or imports another.
urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico before they read a page (and for files that have no page).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"), permanent=True)),
    path("api/v1/", api.urls),
    path("api/operator/v1/", operator_api.urls),
    path("", include("marketmsg.sso.urls")),
    path("", include("marketmsg.web.urls")),
    path("", include("marketmsg.console.urls")),
    path("", include("marketmsg.ops.urls")),
]

handler404 = "marketmsg.web.errors.not_found"
handler500 = "marketmsg.web.errors.server_error"
