"""Messages carry their conversation's seller, with the indexes the seller's lists read (ADR 6)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_time_zone_alter_user_role"),
        ("conversations", "0004_message_marked_no_reply_at_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="seller",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.selleraccount",
            ),
        ),
        migrations.RunSQL(
            "UPDATE conversations_message SET seller_id = (SELECT c.seller_id FROM conversations_conversation c "
            "WHERE c.id = conversations_message.conversation_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="message",
            name="seller",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.selleraccount",
            ),
        ),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("order__isnull", True)),
                fields=["seller", "asin"],
                name="conversation_seller_asin",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["seller", "author", "created_at", "needs_reply", "has_attachments"],
                name="message_seller_box_time",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("needs_reply", True)),
                fields=["seller", "author", "created_at", "needs_reply"],
                name="message_seller_awaiting",
            ),
        ),
    ]
