"""The audit log as a streamed CSV file: the admin's export action and the API's `events.csv`
write the same columns (no personal values exist in audit rows; written by core's csv_writer)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from audit.models import AuditEvent
from core.csvsafe import csv_writer

# What a reader of the log sees of an event (the API and the CSV): every chained field but the
# actor's internal id.
READER_FIELDS = [
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "subject_id",
    "region",
    "fields",
    "reason",
    "request_id",
    "ip_truncated",
]
CSV_COLUMNS = [*READER_FIELDS, "hash"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def audit_csv_response(events: QuerySet[AuditEvent], filename: str) -> StreamingHttpResponse:
    """Stream events as CSV (no personal values exist in audit rows)."""
    writer = csv_writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for event in events.values_list(*CSV_COLUMNS).iterator(chunk_size=2000):
            yield writer.writerow(event)

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
