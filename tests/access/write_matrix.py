"""Print the access matrix table for docs/access.md: `uv run python -m tests.access.write_matrix`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
django.setup()

from tests.access.matrix import render  # noqa: E402

print(render(), end="")
