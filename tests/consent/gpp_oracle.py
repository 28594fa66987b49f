"""The IAB's own GPP library (@iabgpp/cmpapi, pinned in tests/js/gpp/package-lock.json) as a
round-trip oracle: one node process per test session, JSON requests over stdin/stdout."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ORACLE_DIR = Path(__file__).resolve().parents[1] / "js" / "gpp"


class IABOracle:
    def __init__(self) -> None:
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            raise RuntimeError("node and npm are needed for the GPP round-trip tests")
        with open(ORACLE_DIR / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install once
            if not (ORACLE_DIR / "node_modules" / "@iabgpp" / "cmpapi").is_dir():
                subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=ORACLE_DIR,
                    check=True,
                    timeout=300,
                )
        self.process = subprocess.Popen(
            [node, "oracle.js"],
            cwd=ORACLE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def batch(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send all requests, then read all answers: one round trip through the pipe."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
        self.process.stdin.flush()
        return [json.loads(self.process.stdout.readline()) for _ in requests]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)
