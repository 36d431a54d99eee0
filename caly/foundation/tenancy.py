"""Tenant scoping shared by every app: the queryset method all tenant-owned models expose."""

from django.db import models


class TenantQuerySet(models.QuerySet):
    def for_client(self, client) -> "TenantQuerySet":
        """Rows of `client` only. Every tenant-owned lookup starts here."""
        if client is None:
            return self.none()
        return self.filter(client=client)
