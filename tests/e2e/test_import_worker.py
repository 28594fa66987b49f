"""Bulk NDJSON import through the API and a real worker: good lines kept, bad lines reported."""

import json
import random

import pytest

from profiles.models import ImportJob, ImportLineError, Subject
from tests.factories import make_token
from tests.workers import wait_for

pytestmark = pytest.mark.e2e

LINES = 50_000
BAD_EVERY = 100  # 1% malformed


def _ndjson() -> tuple[bytes, set[int]]:
    rng = random.Random(7)
    out, bad = [], set()
    for n in range(1, LINES + 1):
        if n % BAD_EVERY == 0:
            bad.add(n)
            kind = n // BAD_EVERY % 3
            out.append(
                '{"region": "EU", "identifiers": ['
                if kind == 0  # truncated JSON
                else json.dumps(
                    {"region": "EU", "identifiers": [{"kind": "email", "value": "broken"}]}
                )
                if kind == 1
                else json.dumps(
                    {"region": "MARS", "identifiers": [{"kind": "customer_id", "value": str(n)}]}
                )
            )
            continue
        out.append(
            json.dumps(
                {
                    "region": rng.choice(["EU", "US-CA", "BR", "CA"]),
                    "identifiers": [{"kind": "email", "value": f"bulk{n}@example.com"}],
                    "attributes": {"loyalty_tier": rng.choice(["bronze", "gold"])},
                }
            )
        )
    return ("\n".join(out) + "\n").encode(), bad


@pytest.mark.timeout(900)
def test_fifty_thousand_profiles_import_with_exactly_the_malformed_lines_reported(worker, api):
    _, raw = make_token(["profiles:write", "profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body, bad = _ndjson()
    response = api.post("/api/v1/profiles/imports/", body, content_type="application/x-ndjson")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    assert response.json()["lines_total"] == LINES

    job = wait_for(
        lambda: (j := ImportJob.objects.get(pk=job_id)).status == ImportJob.Status.DONE and j,
        timeout=840,
        interval=2,
        message="the import to finish",
    )
    assert job.imported == LINES - len(bad)
    assert job.failed == len(bad)
    assert set(ImportLineError.objects.filter(job=job).values_list("line", flat=True)) == bad
    codes = set(ImportLineError.objects.filter(job=job).values_list("code", flat=True))
    assert codes == {"malformed_json", "invalid_identifier", "invalid"}
    assert Subject.objects.count() == LINES - len(bad)

    progress = api.get(f"/api/v1/profiles/imports/{job_id}/").json()
    assert progress["lines_done"] == LINES
    errors = api.get(f"/api/v1/profiles/imports/{job_id}/errors/?limit=1000").json()
    assert errors["count"] == len(bad)
    assert "broken" not in json.dumps(errors)  # reasons, never the line's values
