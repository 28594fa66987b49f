"""core.pagination.keyset_page: pages of primary keys after a cursor, filled across batches
when a filter drops rows, each page one indexed range query per batch however deep it is;
a cursor that is not a UUID is refused with 400 (the audience feed's `?after=`)."""

from __future__ import annotations

import pytest

from core.pagination import keyset_page
from profiles.models import Subject

pytestmark = pytest.mark.django_db


def _walk(rows, **kwargs):
    pages, after = [], None
    while True:
        page, after = keyset_page(rows, after=after, **kwargs)
        pages.append(page)
        if after is None:
            return pages


def test_pages_cover_every_row_once_in_key_order():
    Subject.objects.bulk_create([Subject(region="EU") for _ in range(23)])
    pages = _walk(Subject.objects.all(), limit=5, batch=5)
    keys = [pk for page in pages for pk in page]
    assert keys == sorted(Subject.objects.values_list("pk", flat=True))
    assert [len(p) for p in pages[:4]] == [5, 5, 5, 5]


def test_a_filter_fills_the_page_across_batches():
    Subject.objects.bulk_create([Subject(region="EU") for _ in range(40)])
    every = sorted(Subject.objects.values_list("pk", flat=True))
    kept = set(every[::4])
    pages = _walk(
        Subject.objects.all(), limit=4, batch=3, keep=lambda ids: [i for i in ids if i in kept]
    )
    assert [pk for page in pages for pk in page] == every[::4]
    assert all(len(page) == 4 for page in pages[:-1])


def test_a_deep_page_costs_one_query(django_assert_num_queries):
    Subject.objects.bulk_create([Subject(region="EU") for _ in range(30)])
    middle = sorted(Subject.objects.values_list("pk", flat=True))[20]
    with django_assert_num_queries(1):
        page, after = keyset_page(Subject.objects.all(), after=middle, limit=5, batch=5)
    assert len(page) == 5
    assert after == page[-1]


def test_a_cursor_that_is_not_a_uuid_is_refused(api):
    from activation.models import Destination
    from profiles.models import System
    from tests.factories import make_token

    token, raw = make_token(["destinations:read"])
    system = System.objects.create(name="Tool", kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=system, token=token)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.get(f"/api/v1/destinations/{destination.pk}/audience/", {"after": "nope"})
    assert response.status_code == 400
    assert "after" in str(response.json()["error"])
