"""Tenant scoping shared by every app: the queryset method all tenant-owned models expose."""

from typing import Self, TypeVar

from django.db import models

_Model = TypeVar("_Model", bound=models.Model)


class TenantQuerySet(models.QuerySet[_Model, _Model]):
    def for_client(self, client) -> Self:
        """Rows of `client` only. Every tenant-owned lookup starts here."""
        if client is None:
            return self.none()
        return self.filter(client=client)
