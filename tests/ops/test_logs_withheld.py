"""A SAML sign-in logs nothing of the person: pysaml2 formats the NameID (an e-mail address)
and, on a bad signature, the whole assertion into its log messages; the console handler keeps
their origin and drops their text. Celery workers log through the same configuration."""

from __future__ import annotations

import io
import logging

import pytest
from django.test import Client

from core.logs import ThirdPartyWithheld
from tests.sso.test_saml import _post, saml, saml_idp  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
EMAIL = "erin@corp.example"  # the test IdP's user


@pytest.fixture
def console():
    """The configured console handler, writing into a buffer, every logger at DEBUG."""
    root = logging.getLogger()
    handler = next(
        h for h in root.handlers if any(isinstance(f, ThirdPartyWithheld) for f in h.filters)
    )
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    levels = {name: logging.getLogger(name).level for name in ("", "saml2", "django")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        handler.setStream(old_stream)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_a_saml_sign_in_and_a_forged_one_log_no_personal_data(saml, console):  # noqa: F811
    signed_in, _ = _post(Client(), saml)
    forged, _ = _post(Client(), saml, other_key=True)
    expired, _ = _post(Client(), saml, lifetime_minutes=-10)
    assert signed_in["Location"] == "/admin/"
    assert forged["Location"] == expired["Location"] == "/admin/login/"
    text = console.getvalue()
    assert "saml2" in text  # pysaml2 did log, by origin
    assert "message withheld" in text
    assert EMAIL not in text
    assert "Assertion" not in text


def test_a_workers_logging_is_djangos():
    from celery.signals import setup_logging

    assert any("_django_logging" in repr(r) for r in setup_logging.receivers)


def test_a_page_that_fails_logs_the_exception_without_its_text(console, monkeypatch):
    """An exception's text may quote input (a database error quotes the value it refused): the
    log keeps its type and frames, as the API's own 500s do."""
    from django.contrib.auth import get_user_model

    def failing(**kwargs):
        raise ValueError(f"no such contact {EMAIL}")

    monkeypatch.setattr("ops.admin_site.workspace", failing)
    client = Client(raise_request_exception=False)
    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 20))
    assert client.get("/admin/").status_code == 500
    text = console.getvalue()
    assert "Internal Server Error: /admin/" in text
    assert "builtins.ValueError: message withheld" in text
    assert "in failing" in text  # the frames stay
    assert EMAIL not in text


def test_a_failed_task_logs_the_exception_without_its_text(console):
    from celery.app.trace import LOG_FAILURE

    try:
        raise ValueError(f"no such contact {EMAIL}")
    except ValueError as exc:
        logging.getLogger("celery.app.trace").error(
            LOG_FAILURE,
            {"name": "dsar.step", "id": "t1", "description": "raised unexpected", "exc": repr(exc)},
            exc_info=True,
        )
    text = console.getvalue()
    assert "Task dsar.step[t1] raised unexpected: builtins.ValueError" in text
    assert EMAIL not in text
