#!/usr/bin/env bash
# Fuzz the API against its own OpenAPI schema (schemathesis) on a live server, as CI does.
#
# Starts gunicorn on a free port on 127.0.0.1 over fresh data (demo seed + a service-account
# token with every scope and region, and the demo property key for the public endpoints; the
# staff-only endpoints in a second pass as the signed-in demo DPO), runs
# a bounded number of examples per operation and fails on any 5xx, on any response the schema
# does not describe (status code, content type, body, headers) and on a method the schema lacks
# that is not answered 405. Stops the server on exit.
#
# Database: the one DATABASE_URL names. SQLite (default): a new file in a temporary directory.
# PostgreSQL: a scratch database "<name>_fuzz" next to it, dropped and created fresh (as
# pytest-django makes "test_<name>"). CELERY_BROKER_URL / CACHE_URL are used as given; no
# worker runs, so queued tasks wait in the broker.
# FUZZ_EXAMPLES (default 10) bounds the examples per operation, FUZZ_SEED replays a run.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=$(command -v uv 2>/dev/null || echo "python3 -m uv")
RUN="$UV run --frozen"
EXAMPLES=${FUZZ_EXAMPLES:-10}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance
CHECKS=$CHECKS,response_schema_conformance,response_headers_conformance,unsupported_method
CHECKS=$CHECKS,negative_data_rejection
SEED=${FUZZ_SEED:-$RANDOM}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/custodia-fuzz.XXXXXX")
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

export CUSTODIA_VAR_DIR="$WORK/var"  # fresh development secrets, SQLite files, mail, imports
export DJANGO_DEBUG=0                # errors as production serves them
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
    DATABASE_URL=$($RUN python - <<'EOF'
import os
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/") + "_fuzz"
with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
print(url._replace(path="/" + name).geturl())
EOF
)
    export DATABASE_URL
fi

echo "fuzz: database ${DATABASE_URL:-sqlite in $WORK}, seed $SEED, $EXAMPLES examples per operation"
$RUN python manage.py migrate --noinput -v 0
$RUN python manage.py seed_demo --subjects 30 >"$WORK/seed.log"
TOKEN=$($RUN python manage.py issue_api_token fuzz.service --name fuzzing --all-regions)
# Existing ids for the path parameters, so operations reach their logic beyond a 404.
$RUN python manage.py shell -v 0 >"$WORK/schemathesis.toml" <<'EOF'
from consent.models import ConsentRecord
from dsar.models import DataSubjectRequest
from profiles.models import Subject

subject = Subject.objects.filter(status="active").order_by("created_at").first()
ids = {
    "subject_id": subject.pk,
    "record_id": ConsentRecord.objects.filter(subject=subject).first().pk,
    "request_id": DataSubjectRequest.objects.order_by("received_at").first().pk,
}
print("[parameters]")
for name, value in ids.items():
    print(f'"path.{name}" = "{value}"')
EOF
# A signed-in DPO for the staff-only endpoints (tokens, unmask), which refuse API tokens.
read -r SESSION CSRF < <($RUN python manage.py shell -v 0 <<'EOF'
import secrets

from django.contrib.auth import get_user_model
from django.test import Client

client = Client()
client.force_login(get_user_model().objects.get(username="dpo"))
print(client.cookies["sessionid"].value, secrets.token_hex(16))
EOF
)

PORT=$($RUN python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Rate limits high enough that the fuzzer reaches the logic behind them. No request-line limit:
# the fuzzer tests the API, and gunicorn's own 414 page (HTML, over 4094 bytes of URL, which
# a long invalid query reaches) is the HTTP server's answer, not the API's.
CUSTODIA_PUBLIC_CLIENT_RATE=100000/min CUSTODIA_PUBLIC_KEY_RATE=100000/min CUSTODIA_INTAKE_RATE=100000/hour \
    $RUN gunicorn settings.wsgi --bind "127.0.0.1:$PORT" --workers 2 --timeout 60 --no-control-socket \
    --limit-request-line 0 \
    >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

# From the work directory, so schemathesis keeps its cache of failures there, not in the tree.
ROOT=$PWD
cd "$WORK"
fuzz() {
    PYTHONPATH="$ROOT/scripts" SCHEMATHESIS_HOOKS=fuzz_hooks \
        $RUN --project "$ROOT" schemathesis --no-color --config-file "$WORK/schemathesis.toml" \
        run "http://127.0.0.1:$PORT/api/schema/" \
        --wait-for-schema 60 \
        --checks "$CHECKS" \
        --phases examples,coverage,fuzzing \
        --max-examples "$EXAMPLES" \
        --seed "$SEED" \
        --workers 2 \
        --request-timeout 30 \
        --generation-database none \
        --generation-with-security-parameters false \
        "$@" \
        || {
            status=$?
            echo "fuzz: FAILED (server errors follow)"
            grep -v " WARNING django.request " "$WORK/server.log" | tail -n 200
            exit "$status"
        }
}
echo "fuzz: as a service account (API token) and with the public property key"
fuzz --header "Authorization: Bearer $TOKEN" --header "X-Custodia-Key: pk_demo_shop" \
    --exclude-path-regex '^/api/v1/access/(tokens|unmask)/'
echo "fuzz: the staff-only endpoints as a signed-in DPO"
fuzz --header "Cookie: sessionid=$SESSION; csrftoken=$CSRF" --header "X-CSRFToken: $CSRF" \
    --include-path-regex '^/api/v1/access/(tokens|unmask)/'
echo "fuzz: passed"
