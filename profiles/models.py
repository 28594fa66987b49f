import uuid

from django.db import models

from access.scoping import ScopedManager


class Subject(models.Model):
    """A data subject: the golden record's root. Region decides jurisdiction and who may see it."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        MERGED = "merged"
        ERASED = "erased"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    region = models.CharField(max_length=16, db_index=True, help_text="e.g. EU, GB, US-CA, BR, CA")
    jurisdiction = models.CharField(
        max_length=16, blank=True, help_text="Jurisdiction code; empty = derived from region"
    )
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()
    scope_region_field = "region"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Subject {self.id}"
