from django.urls import path

from marketmsg.sso import views

urlpatterns = [
    path("sso/<str:provider>/start/", views.start, name="sso-start"),
    path(
        "sso/marketplace/callback/",
        views.callback,
        {"provider": "marketplace"},
        name="sso-marketplace-callback",
    ),
    path("sso/staff/callback/", views.callback, {"provider": "staff"}, name="sso-staff-callback"),
]
