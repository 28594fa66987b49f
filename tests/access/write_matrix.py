"""Print the access matrix tables for docs/access.md (reads, then writes):
`uv run python -m tests.access.write_matrix`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
django.setup()

from tests.access.matrix import render, render_writes  # noqa: E402

print(render())
print(render_writes(), end="")
