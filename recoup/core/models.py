"""Shared model bases: timestamps and the tenant-scoped queryset every domain table uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from django.db import models

if TYPE_CHECKING:
    from recoup.accounts.models import Organisation


class TenantQuerySet[M: models.Model](models.QuerySet[M]):
    """The single scoped entry point: every selector starts from ``Model.objects.for_org(org)``."""

    def for_org(self, organisation: Organisation | int) -> Self:
        org_id = organisation if isinstance(organisation, int) else organisation.pk
        return self.filter(organisation_id=org_id)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # save(update_fields=[...]) must still move updated_at (zulip/saleor habit).
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "updated_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "updated_at"]
        super().save(*args, **kwargs)
