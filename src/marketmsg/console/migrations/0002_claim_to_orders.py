# Claims now belong to the orders (orders 0005): state only, the table and its rows stay.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_claim_from_staff"),
        ("staff", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="claim",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="audit",
                        to="orders.claim",
                    ),
                ),
                migrations.DeleteModel(
                    name="Claim",
                ),
            ],
            database_operations=[],
        ),
    ]
