"""Play the demo's web shop and e-mail tool against a running hub (`make run`).

1. The web shop sends signed Segment calls to its source webhook: an anonymous visitor views a
   product, then signs up (`identify` joins the visit to the customer) and orders; a second
   customer signs up; a third visitor browses anonymously and is linked by an `alias`.
2. Once the hub's worker has processed them, the shop's backend records what each customer
   answered to the newsletter checkbox (consent API): the first said yes, the second no, the
   third never answered.
3. The e-mail tool reads its audience feed (purpose `marketing_email`): only the customer who
   said yes is in it, as SHA-256 of the normalized e-mail.

Standard library only, as a source's own code would be. Reads `var/demo-sources.json`, which
`seed_demo` writes (the source's signing secret and two demo API tokens). Exit status 0 when
the feed holds exactly the consented shopper, 1 otherwise.

    uv run --frozen python scripts/demo_send_events.py [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

VAR_DIR = os.environ.get("CUSTODIA_VAR_DIR") or Path(__file__).resolve().parent.parent / "var"
DEFAULT_CONFIG = Path(VAR_DIR) / "demo-sources.json"


def sign(secret: str, body: bytes) -> str:
    """`Custodia-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    ts = int(time.time())
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def call(url: str, *, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    if not url.startswith(("http://", "https://")):
        raise SystemExit(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        url,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def shoppers(run: str) -> list[dict[str, Any]]:
    """Three demo customers (fresh per run) and their newsletter answer (None: never asked)."""
    return [
        {"name": "Mia", "user": f"shop-{run}-1", "anon": f"anon-{run}-1", "answer": "granted"},
        {"name": "Jonas", "user": f"shop-{run}-2", "anon": f"anon-{run}-2", "answer": "denied"},
        {"name": "Alex", "user": f"shop-{run}-3", "anon": f"anon-{run}-3", "answer": None},
    ]


def email(shopper: dict[str, Any]) -> str:
    return f"{shopper['name'].lower()}.{shopper['user']}@example.com"


def segment_calls(shopper: dict[str, Any]) -> list[dict[str, Any]]:
    """What a Segment pipeline sends for one shopper: a visit, the sign-up, an order or alias."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    traits = {"email": email(shopper), "firstName": shopper["name"], "plan": "basic"}
    visit = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": shopper["anon"],
        "properties": {"sku": "TEA-GREEN-100"},
    }
    calls = [visit]
    if shopper["answer"] is None:  # signs up later: alias joins the visitor to the customer
        calls += [
            {"type": "alias", "previousId": shopper["anon"], "userId": shopper["user"]},
            {"type": "identify", "userId": shopper["user"], "traits": traits},
        ]
    else:
        calls += [
            {
                "type": "identify",
                "userId": shopper["user"],
                "anonymousId": shopper["anon"],
                "traits": traits,
            },
            {
                "type": "track",
                "event": "Order Completed",
                "userId": shopper["user"],
                "properties": {"total": 24.5, "currency": "EUR"},
            },
        ]
    return [{**c, "messageId": str(uuid.uuid4()), "timestamp": now} for c in calls]


def send_events(config: dict[str, Any], base: str, people: list[dict[str, Any]]) -> int:
    url = base + config["source"]["path"]
    sent = 0
    for shopper in people:
        for payload in segment_calls(shopper):
            body = json.dumps(payload).encode()
            status, answer = call(
                url,
                body=body,
                headers={"Custodia-Signature": sign(config["source"]["secret"], body)},
            )
            if status not in (200, 202):
                raise SystemExit(f"the source webhook answered {status}: {answer}")
            print(f"  sent {payload['type']:8} {payload.get('event', ''):16} -> {status}")
            sent += 1
    return sent


def subject_of(config: dict[str, Any], base: str, shopper: dict[str, Any], timeout: float) -> str:
    """The hub's subject of a customer, once the worker has processed the shop's calls: the
    customer id, the e-mail and the visitor's device id all name the same one person."""
    headers = {"Authorization": f"Bearer {config['shop_token']['token']}"}
    keys = [
        ("customer_id", shopper["user"]),
        ("email", email(shopper)),
        ("device_id", shopper["anon"]),
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = set()
        for kind, value in keys:
            status, rows = call(
                base + "/api/v1/profiles/subjects/search/",
                body={"kind": kind, "value": value},
                headers=headers,
            )
            found |= {row["id"] for row in rows} if status == 200 and rows else {""}
        if len(found) == 1 and "" not in found:
            return found.pop()
        time.sleep(0.5)
    raise SystemExit(f"{shopper['user']} was not processed in {timeout:.0f} s: is the worker up?")


def record_answers(
    config: dict[str, Any], base: str, people: list[dict[str, Any]], timeout: float
) -> None:
    headers = {"Authorization": f"Bearer {config['shop_token']['token']}"}
    for shopper in people:
        shopper["subject"] = subject_of(config, base, shopper, timeout)
        for purpose in config["purposes"]:
            if shopper["answer"] is None:
                continue
            status, answer = call(
                base + "/api/v1/consent/records/",
                body={
                    "subject": shopper["subject"],
                    "purpose": purpose,
                    "state": shopper["answer"],
                },
                headers=headers,
            )
            if status != 201:
                raise SystemExit(f"recording consent answered {status}: {answer}")
        print(
            f"  {shopper['name']:6} subject {shopper['subject']}  "
            f"newsletter: {shopper['answer'] or 'no answer'}"
        )


def audience(config: dict[str, Any], base: str) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {config['destination_token']['token']}"}
    rows: list[dict[str, Any]] = []
    after = ""
    while True:
        url = (
            base
            + config["destination"]["path"]
            + "?limit=1000"
            + (f"&after={after}" if after else "")
        )
        status, page = call(url, headers=headers)
        if status != 200:
            raise SystemExit(f"the audience feed answered {status}: {page}")
        rows += page["results"]
        after = page.get("next") or ""
        if not after:
            return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="written by seed_demo")
    parser.add_argument("--url", help="the hub's base URL (default: the one seed_demo recorded)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the worker")
    args = parser.parse_args(argv)
    if not args.config.exists():
        print(f"{args.config} is missing: run `make seed` (or `make run`) first", file=sys.stderr)
        return 2
    config = json.loads(args.config.read_text())
    base = (args.url or config["base_url"]).rstrip("/")
    people = shoppers(uuid.uuid4().hex[:8])
    print(f"1. The web shop sends Segment calls to {base}{config['source']['path']}")
    send_events(config, base, people)
    print("2. The shop's backend records each customer's newsletter answer")
    record_answers(config, base, people, args.timeout)
    print(f"3. The e-mail tool reads its audience feed ({', '.join(config['purposes'])})")
    rows = audience(config, base)
    hashes = {h for row in rows for h in row.get("email_sha256", [])}
    ids = {row["subject_id"] for row in rows}
    ok = True
    for shopper in people:
        listed = shopper["subject"] in ids
        hashed = hashlib.sha256(email(shopper).encode()).hexdigest() in hashes
        expected = shopper["answer"] == "granted"
        ok &= listed == expected and hashed == expected
        print(
            f"  {shopper['name']:6} in the feed: {'yes' if listed else 'no'} "
            f"(expected {'yes' if expected else 'no'})"
        )
    print(
        f"  the feed holds {len(rows)} people, all with consent to {', '.join(config['purposes'])}"
    )
    print("OK: only consented people flow out" if ok else "MISMATCH: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
