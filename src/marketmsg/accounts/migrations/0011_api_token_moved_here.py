import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    # The table api_apitoken stays where the api app made it; only Django's idea of which app owns
    # the model changes (the sellers' pages and the API both read it without importing each other).
    dependencies = [
        ("accounts", "0010_user_erased_at"),
        ("api", "0003_bearer_keys_share_columns"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        ("shown_prefix", models.CharField(max_length=14)),
                        ("token_digest", models.CharField(max_length=64, unique=True)),
                        ("scopes", models.CharField(default="read", max_length=100)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        ("window_start", models.DateTimeField(blank=True, null=True)),
                        ("window_count", models.PositiveIntegerField(default=0)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="api_tokens",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"db_table": "api_apitoken"},
                ),
            ],
            database_operations=[],
        ),
    ]
