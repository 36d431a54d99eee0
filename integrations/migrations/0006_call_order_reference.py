import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_client_country"),
        ("integrations", "0005_order_customer_shopify_id"),
        ("recordings", "0003_call_notes_trigram"),
    ]

    operations = [
        migrations.CreateModel(
            name="CallOrderReference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveBigIntegerField()),
                ("tag", models.CharField(max_length=12)),
                (
                    "position",
                    models.PositiveSmallIntegerField(help_text="Its place on the call: the first valid one wins."),
                ),
                (
                    "call",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="recordings.call"
                    ),
                ),
                (
                    "client",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.client",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["client", "number"], name="integ_callref_client_number")],
            },
        ),
    ]
