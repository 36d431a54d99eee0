"""Bases for serializers of request bodies: each value must have the JSON type the schema gives it.

DRF coerces on the way in: `"notes": 0` becomes "0", `"is_resolved": "yes"` becomes True and
`"customer_satisfaction": "3"` becomes 3. The schema promises a string, a boolean and an integer,
so a body that sends anything else is a client bug; it gets a 400 naming the field, like any
other invalid value. Query strings are text by nature and keep DRF's parsing.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

# Checked in order: BooleanField and IntegerField before their look-alikes, ListField before the rest.
_JSON_TYPES: list[tuple[type, tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DecimalField, (int, float, str), "a number"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.CharField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
    (serializers.DateField, (str,), "a string"),
    (serializers.UUIDField, (str,), "a string"),
]


def json_type_problems(field: serializers.Field, value) -> list[str]:
    """Why `value` is not of the JSON type `field` documents ([] when it is, or is null)."""
    if value is None:
        return []  # the field's own allow_null decides
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return ["Must be a list."]
        return [
            f"Item {n}: {problem}" for n, item in enumerate(value) for problem in json_type_problems(field.child, item)
        ]
    for field_type, json_types, name in _JSON_TYPES:
        if isinstance(field, field_type):
            wrong = not isinstance(value, json_types) or (isinstance(value, bool) and bool not in json_types)
            return [f"Must be {name}."] if wrong else []
    return []


class StrictTypesMixin:
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            problems = {
                field.field_name: json_type_problems(field, data[field.field_name])
                for field in self._writable_fields
                if field.field_name in data
            }
            problems = {name: found for name, found in problems.items() if found}
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


class RequestSerializer(StrictTypesMixin, serializers.Serializer):
    """Base of every serializer that reads a JSON request body."""


class RequestModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
    """Base of every model serializer that reads a JSON request body."""
