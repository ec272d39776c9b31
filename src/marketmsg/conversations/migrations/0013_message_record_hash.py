from django.db import migrations, models

FIELD = migrations.AddField(
    model_name="message",
    name="record_hash",
    field=models.CharField(blank=True, db_default="", default="", max_length=64),
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
        'ALTER TABLE "conversations_message" ADD COLUMN "record_hash" varchar(64) NOT NULL DEFAULT \'\''
    )


def remove_column(apps, schema_editor):
    schema_editor.execute('ALTER TABLE "conversations_message" DROP COLUMN "record_hash"')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0012_sender_authentication")]

    # As in 0008: ALTER TABLE ADD COLUMN is instant on SQLite, where the schema editor would copy
    # the whole message table.
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, remove_column)],
            state_operations=[FIELD],
        )
    ]
