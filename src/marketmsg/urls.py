from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico before they read a page (and for files that have no page).
    path("favicon.ico", RedirectView.as_view(url=static("web/favicon.svg"), permanent=True)),
    path("", include("marketmsg.sso.urls")),
    path("", include("marketmsg.web.urls")),
]

handler404 = "marketmsg.web.errors.not_found"
handler500 = "marketmsg.web.errors.server_error"
