from django.db import migrations, models

FIELD = migrations.AddField(
    model_name="message",
    name="authentication",
    field=models.JSONField(blank=True, db_default=models.Value({}, models.JSONField()), default=dict),
)


def add_column(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        model = apps.get_model("conversations", "Message")
        field = FIELD.field.clone()
        field.set_attributes_from_name(FIELD.name)
        field.model = model
        schema_editor.add_field(model, field)
        return
    schema_editor.execute(
        'ALTER TABLE "conversations_message" ADD COLUMN "authentication" '
        "text NOT NULL DEFAULT '{}' CHECK (JSON_VALID(\"authentication\"))"
    )


def remove_column(apps, schema_editor):
    schema_editor.execute('ALTER TABLE "conversations_message" DROP COLUMN "authentication"')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0011_sender_lists")]

    operations = [
        # A NOT NULL column with a database default: on SQLite, ALTER TABLE ADD COLUMN is instant,
        # where the schema editor would copy the whole message table (as in 0008).
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, remove_column)],
            state_operations=[FIELD],
        )
    ]
