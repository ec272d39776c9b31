from django.contrib.auth import views as auth_views
from django.urls import path

from marketmsg.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("messages/", views.seller_messages, name="seller-messages"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("mailcatcher/", views.mailcatcher_list, name="mailcatcher"),
    path("mailcatcher/<str:key>/", views.mailcatcher_detail, name="mailcatcher-detail"),
    path("mailcatcher/<str:key>/raw", views.mailcatcher_raw, name="mailcatcher-raw"),
]
