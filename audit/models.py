from django.db import models


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit events are append-only")

    def delete(self):
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """One link of the hash chain. Holds field names and ids, never personal values."""

    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    subject_id = models.UUIDField(null=True, blank=True, db_index=True)
    region = models.CharField(max_length=16, blank=True)  # indexed in Meta: equality only
    fields = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_truncated = models.CharField(max_length=45, blank=True)
    prev_hash = models.CharField(max_length=64)
    # Not indexed: the chain is read in sequence order and each hash recomputed (`audit_verify`);
    # nothing looks a row up by its hash. Every index costs each of the many appends.
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        # A plain index (a CharField's db_index adds a second, pattern-matching one on
        # PostgreSQL, of no use to the scope filter's `region IN (...)`).
        indexes = [models.Index(fields=["region"], name="audit_event_region")]
        permissions = [("export_auditevent", "Can export the audit log")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class AuditAlert(models.Model):
    """Raised when the periodic verification finds the chain broken; acknowledged by staff."""

    raised_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=40, default="chain_broken")
    message = models.CharField(max_length=500)
    broken_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.raised_at:%Y-%m-%d %H:%M}"


class PublishedHead(models.Model):
    """A chain head (sequence + hash) recorded for later truncation checks, and optionally
    posted to an external write-once store."""

    sequence = models.PositiveBigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    published_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sequence"]

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"
