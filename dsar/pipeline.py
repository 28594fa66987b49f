"""The request pipeline as one module for callers outside its parts (admin, tools, tests): the
step engine (dsar/engine.py), the step runners (dsar/steps.py) and housekeeping
(dsar/housekeeping.py). None of those modules imports this one."""

from dsar.engine import (
    PLANS,
    enqueue_next,
    plan_create,
    step_claim,
    step_next,
    step_retry,
    step_run,
    step_settle,
    steps_run_from,
    systems_check,
)
from dsar.housekeeping import erasures_finish_deferred, sweep
from dsar.steps import MAX_ATTEMPTS, RUNNERS, system_task_dispatch

# The engine's names before the split into modules, as the existing tests call them.
_claim = step_claim
_next_step = step_next
_settle = step_settle
_dispatch = system_task_dispatch

__all__ = [
    "MAX_ATTEMPTS",
    "PLANS",
    "RUNNERS",
    "enqueue_next",
    "erasures_finish_deferred",
    "plan_create",
    "step_claim",
    "step_next",
    "step_retry",
    "step_run",
    "step_settle",
    "steps_run_from",
    "sweep",
    "system_task_dispatch",
    "systems_check",
]
