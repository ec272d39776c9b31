import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    # State only: the table and its foreign key stay as they are (accounts 0011).
    dependencies = [
        ("accounts", "0011_api_token_moved_here"),
        ("api", "0003_bearer_keys_share_columns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="idempotentrequest",
                    name="token",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="idempotent_requests",
                        to="accounts.apitoken",
                    ),
                ),
                migrations.DeleteModel(name="ApiToken"),
            ],
            database_operations=[],
        ),
    ]
