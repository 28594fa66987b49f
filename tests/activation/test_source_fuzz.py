"""Correctly signed calls with any JSON a source could send (Segment-shaped or not): accepted
with a 202 or refused with a 4xx in the one error format, never a 500; and every accepted
message then ends done or dead-lettered with a reason, never an exception out of the
worker's step (a poison message must not stall the inbox)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation import services
from activation.models import InboxMessage
from tests.activation.test_source_webhooks import post, source  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
_unique = itertools.count()
KEYS = ["type", "messageId", "userId", "anonymousId", "previousId", "traits", "properties"]
KEYS += ["event", "context", "timestamp", "email", "phone", "name", "firstName", "birthday"]
KEYS += ["address", "postalCode", "ip", "page", "integrations", "groupId"]
TYPES = ["identify", "track", "page", "alias", "screen", "group", "", "IDENTIFY"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from([*TYPES, "2026-10-01T10:00:00Z", "not a date", "x@y.z", "+49 151 2345"])
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=20,
)
calls = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["identify", "track", "page", "alias"]),
        "messageId": st.text(min_size=1, max_size=20),
    },
    optional={key: values for key in KEYS if key not in ("type", "messageId")}
    | {
        "userId": st.text(min_size=1, max_size=20) | scalars,
        "anonymousId": st.text(min_size=1, max_size=20) | scalars,
        "traits": st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), values),
    },
)


@settings(
    max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(call=calls | calls | calls | values)
def test_any_signed_call_is_a_202_or_a_4xx_and_then_processed_or_dead_lettered(
    api,
    source,  # noqa: F811 - the fixture
    call,
):
    if isinstance(call, dict) and isinstance(call.get("messageId"), str):
        call = {**call, "messageId": f"{call['messageId']}-{next(_unique)}"}  # not a replay
    response = post(api, source, call)
    assert response.status_code < 500, response.content[:300]
    if response.status_code != 202:
        assert "error" in response.json()
        return
    message_id = response.json()["id"]
    services.inbox_process(message_id)
    message = InboxMessage.objects.get(pk=message_id)
    assert message.status in ("done", "dead"), message.status
    if message.status == "dead":
        assert message.last_error
