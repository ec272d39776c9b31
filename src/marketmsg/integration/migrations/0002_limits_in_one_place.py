# Sign-in failures and the bearer keys' minute windows give way to the one rate limiter (limits.Bucket).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="operatorcredential",
            name="window_count",
        ),
        migrations.RemoveField(
            model_name="operatorcredential",
            name="window_start",
        ),
    ]
