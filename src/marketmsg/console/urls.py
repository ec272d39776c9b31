"""The staff console's pages (SPEC F7, F9, F11), all under /staff/."""

from django.urls import path

from marketmsg.console import (
    attachment_views,
    claim_views,
    customer_service_views,
    moderation_views,
    oversight_views,
    performance_views,
    record_views,
)

urlpatterns = [
    path("staff/attachments/", attachment_views.attachments, name="staff-attachments"),
    path("staff/blocked/", moderation_views.blocked_messages, name="staff-blocked"),
    path("staff/performance/", performance_views.ranking, name="staff-performance"),
    path("staff/customer-service/", customer_service_views.customer_service, name="staff-customer-service"),
    path(
        "staff/customer-service/<int:message_id>/answer/",
        customer_service_views.answer_customer,
        name="staff-customer-answer",
    ),
    path("staff/claims/", claim_views.claims, name="staff-claims"),
    path("staff/claims/<int:claim_id>/", claim_views.claim, name="staff-claim"),
    path("staff/claims/<int:claim_id>/decide/", claim_views.decide, name="staff-claim-decide"),
    path(
        "staff/conversations/<int:conversation_id>/",
        record_views.conversation_record,
        name="staff-conversation",
    ),
    path("staff/messages/<int:message_id>/raw/", record_views.raw_message, name="staff-raw-message"),
    path("staff/files/<int:attachment_id>/", record_views.attachment_file, name="staff-attachment-file"),
    path("staff/search/", oversight_views.search, name="staff-search"),
    path("staff/audit/", oversight_views.audit_log, name="staff-audit"),
    path(
        "staff/performance/<int:seller_id>/",
        performance_views.seller_performance,
        name="staff-seller-performance",
    ),
    path(
        "staff/attachments/<int:attachment_id>/remove/",
        attachment_views.remove_attachment,
        name="staff-remove-attachment",
    ),
]
