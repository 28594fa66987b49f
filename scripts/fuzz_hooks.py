"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

# The NDJSON import takes the file as raw bytes, as the schema's binary string says.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")
