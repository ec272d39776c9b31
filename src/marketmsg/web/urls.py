from django.contrib.auth import views as auth_views
from django.urls import include, path

from marketmsg.api.v1 import api
from marketmsg.web import (
    account_views,
    buyer_views,
    fba_views,
    file_views,
    guideline_views,
    moderation_views,
    noreply_views,
    performance_views,
    seller_views,
    sender_views,
    staff_views,
    template_views,
    token_views,
    views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", account_views.settings_page, name="account"),
    path("account/tokens/", token_views.tokens, name="api-tokens"),
    path("account/tokens/<int:token_id>/revoke/", token_views.revoke, name="api-token-revoke"),
    path("api/v1/", api.urls),
    # seller
    path("messages/", seller_views.message_list, name="seller-messages"),
    path("messages/<int:conversation_id>/", seller_views.conversation, name="seller-conversation"),
    path("messages/check/", guideline_views.check, name="guideline-check"),
    path("orders/", seller_views.manage_orders, name="manage-orders"),
    path("orders/report/", seller_views.order_report, name="order-report"),
    path("orders/<str:order_id>/contact/", seller_views.contact_buyer, name="contact-buyer"),
    path("performance/", performance_views.my_performance, name="performance"),
    path("settings/fba/", fba_views.product_support, name="fba-product-support"),
    path("settings/senders/", sender_views.sender_lists, name="sender-lists"),
    path("templates/", template_views.template_list, name="templates"),
    path("templates/insert/", template_views.template_insert, name="template-insert"),
    path("templates/<int:template_id>/", template_views.template_edit, name="template-edit"),
    path("templates/<int:template_id>/delete/", template_views.template_delete, name="template-delete"),
    # buyer
    path("my/orders/", buyer_views.orders, name="buyer-orders"),
    path("my/orders/<str:order_id>/contact/", buyer_views.contact_seller, name="contact-seller"),
    path("my/ask/", buyer_views.ask_about_product, name="ask-product"),
    path("my/messages/", buyer_views.conversations, name="buyer-messages"),
    path("my/messages/<int:conversation_id>/", buyer_views.conversation, name="buyer-conversation"),
    path("files/<int:attachment_id>/", file_views.download, name="attachment"),
    path("staff/attachments/", staff_views.attachments, name="staff-attachments"),
    path("staff/blocked/", moderation_views.blocked_messages, name="staff-blocked"),
    path("staff/performance/", performance_views.ranking, name="staff-performance"),
    path("staff/customer-service/", staff_views.customer_service, name="staff-customer-service"),
    path(
        "staff/performance/<int:seller_id>/",
        performance_views.seller_performance,
        name="staff-seller-performance",
    ),
    path(
        "staff/attachments/<int:attachment_id>/remove/",
        staff_views.remove_attachment,
        name="staff-remove-attachment",
    ),
    # the signed link in relayed buyer mail
    path("no-reply/<str:token>/", noreply_views.confirm, name="no-reply-link"),
    # development
    path("mailcatcher/", views.mailcatcher_list, name="mailcatcher"),
    path("mailcatcher/<str:key>/", views.mailcatcher_detail, name="mailcatcher-detail"),
    path("mailcatcher/<str:key>/raw", views.mailcatcher_raw, name="mailcatcher-raw"),
]
