from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("marketmsg.sso.urls")),
    path("", include("marketmsg.web.urls")),
]

handler404 = "marketmsg.web.errors.not_found"
handler500 = "marketmsg.web.errors.server_error"
