"""What the settings name exists: every beat entry runs a registered task, every queue route
serves an app that has tasks, every schedule module and template folder is there (issue 14:
a schedule module and a templates folder were named but missing, a route served no task)."""

from __future__ import annotations

import importlib
from pathlib import Path

from django.conf import settings

from settings.celery import SCHEDULE_MODULES, app


def _task_names() -> set[str]:
    app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery)
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_beat_entry_runs_a_registered_task():
    tasks = _task_names()
    scheduled = {
        entry["task"]
        for module in SCHEDULE_MODULES
        for entry in importlib.import_module(module).BEAT_SCHEDULE.values()
    }
    assert scheduled - tasks == set()


def test_every_queue_route_serves_an_app_with_tasks():
    tasks = _task_names()
    prefixes = {route.removesuffix("*") for route in settings.CELERY_TASK_ROUTES}
    assert {p for p in prefixes if not any(t.startswith(p) for t in tasks)} == set()
    assert {t for t in tasks if not t.startswith(tuple(prefixes))} == set()


def test_every_template_folder_named_exists():
    folders = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    assert [str(f) for f in folders if not f.is_dir()] == []
