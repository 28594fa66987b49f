"""Production mode: secrets from the environment, `check --deploy` clean."""

import base64
import os
import secrets
import subprocess

from tests.workers import ROOT, manage


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "CUSTODIA_KEYS", "CUSTODIA_BLIND_INDEX_KEY"}
    }
    env.update(
        CUSTODIA_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        CUSTODIA_KEYS="1:" + base64.b64encode(os.urandom(32)).decode(),
        CUSTODIA_BLIND_INDEX_KEY=base64.b64encode(os.urandom(32)).decode(),
        CUSTODIA_SIGNING_KEY=base64.b64encode(os.urandom(32)).decode(),
        ALLOWED_HOSTS="privacy.example.com",
        CUSTODIA_VAR_DIR=str(ROOT / "var" / "deploy-check"),
    )
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return manage(*args, env=env, timeout=120)


def test_check_deploy_reports_nothing_in_production_mode():
    result = _manage("check", "--deploy", "--fail-level", "DEBUG", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_mode_refuses_to_start_without_secrets_from_the_environment():
    env = _production_env()
    del env["CUSTODIA_KEYS"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "CUSTODIA_KEYS is required" in result.stderr


def test_production_mode_never_writes_development_secrets(tmp_path):
    env = _production_env(CUSTODIA_VAR_DIR=str(tmp_path))
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "dev-secrets.json").exists()


def test_a_malformed_boolean_setting_is_a_clear_error():
    result = _manage("check", env=_production_env(DJANGO_DEBUG="perhaps"))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='perhaps' is not a boolean" in result.stderr


def test_healthz_answers_plain_http_probes_in_production_while_pages_redirect_to_https(tmp_path):
    probe = (
        "from django.test import Client\n"
        "client = Client(HTTP_HOST='privacy.example.com')\n"
        "print('probe:healthz', client.get('/healthz').status_code)\n"
        "print('probe:admin', client.get('/admin/login/').status_code)\n"
    )
    result = _manage("shell", "-c", probe, env=_production_env(CUSTODIA_VAR_DIR=str(tmp_path)))

    assert result.returncode == 0, result.stderr
    answers = dict(line.split() for line in result.stdout.splitlines() if line.startswith("probe:"))
    assert answers["probe:admin"] == "301"  # pages still go to HTTPS
    assert answers["probe:healthz"] in {"200", "503"}  # a load balancer's probe gets the health
