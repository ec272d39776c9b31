from django.urls import path

from marketmsg.ops import health_views, mailcatcher_views

urlpatterns = [
    path("healthz", health_views.healthz, name="healthz"),
    path("readyz", health_views.readyz, name="readyz"),
    path("metrics", health_views.metrics, name="metrics"),
    # development: what the demo's smarthost caught
    path("mailcatcher/", mailcatcher_views.mailcatcher_list, name="mailcatcher"),
    path("mailcatcher/<str:key>/", mailcatcher_views.mailcatcher_detail, name="mailcatcher-detail"),
    path("mailcatcher/<str:key>/raw", mailcatcher_views.mailcatcher_raw, name="mailcatcher-raw"),
]
