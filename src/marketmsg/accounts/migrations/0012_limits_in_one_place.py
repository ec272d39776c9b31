# Sign-in failures and the bearer keys' minute windows give way to the one rate limiter (limits.Bucket).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_api_token_moved_here"),
    ]

    operations = [
        migrations.DeleteModel(
            name="SignInFailure",
        ),
        migrations.RemoveField(
            model_name="apitoken",
            name="window_count",
        ),
        migrations.RemoveField(
            model_name="apitoken",
            name="window_start",
        ),
    ]
