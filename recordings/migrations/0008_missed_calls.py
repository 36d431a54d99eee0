"""Missed calls to ring back: one row per caller's number (recordings.models.MissedCall), filled from the calls
already stored. Kept since by recordings.services.missed_calls_refresh."""

import re

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Max, Min, Q

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
MISSED = Q(direction="inbound", status__in=["no-answer", "busy", "failed", "canceled"])
ANSWERED = Q(status="completed", answered_at__isnull=False)


def fill(apps, schema_editor):
    Call = apps.get_model("recordings", "Call")
    MissedCall = apps.get_model("recordings", "MissedCall")
    numbers = Call.objects.filter(MISSED).values_list("client_id", "from_number").distinct().order_by()
    for client_id, number in numbers.iterator():
        if not E164.fullmatch(number):
            continue
        calls = Call.objects.filter(client_id=client_id)
        answered = (
            calls.filter(ANSWERED)
            .filter(Q(from_number=number) | Q(to_number=number))
            .aggregate(last=Max("started_at"))["last"]
        )
        missed = calls.filter(MISSED, from_number=number)
        if answered is not None:
            missed = missed.filter(started_at__gt=answered)
        figures = missed.aggregate(count=Count("id"), first=Min("started_at"))
        latest = missed.order_by("-started_at", "-id").first()
        if latest is None:
            continue
        MissedCall.objects.create(
            client_id=client_id,
            number=number,
            call=latest,
            last_missed_at=latest.started_at,
            first_missed_at=figures["first"],
            attempts=figures["count"],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_fk_indexes_state"),
        ("recordings", "0007_tags"),
    ]

    operations = [
        migrations.CreateModel(
            name="MissedCall",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "client",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.client",
                    ),
                ),
                (
                    "number",
                    models.CharField(
                        help_text="The caller's number, E.164.",
                        max_length=16,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^\\+[1-9][0-9]{6,14}$", "Enter a phone number in E.164 form, such as +919876543210."
                            )
                        ],
                    ),
                ),
                (
                    "call",
                    models.ForeignKey(
                        help_text="The latest missed call.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="recordings.call",
                    ),
                ),
                ("last_missed_at", models.DateTimeField()),
                ("first_missed_at", models.DateTimeField()),
                (
                    "attempts",
                    models.PositiveIntegerField(help_text="Missed calls from the number since it was last answered."),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["client", "-last_missed_at", "-id"], name="rec_missed_client_latest")
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("client", "number"), name="rec_missed_client_number")
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
