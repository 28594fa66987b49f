"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS)."""

import ast
import threading

import schemathesis

# The NDJSON import takes the file as raw bytes, as the schema's binary string says.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")

# CPython 3.11 keeps the AST constructor's recursion depth per interpreter, so two threads
# parsing at once fail with "AST constructor recursion depth mismatch" (cpython gh-106905);
# hypothesis parses lambda sources while the fuzzer's workers run in threads.
_parse = ast.parse
_parse_lock = threading.Lock()


def _serialized_parse(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serialized_parse
