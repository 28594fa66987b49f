"""Region scope checks shared by every profiles write: a write for a region outside the actor's
scope is refused, a subject outside it does not exist for them."""

from __future__ import annotations

from audit.actors import Actor
from core.errors import ForbiddenError, NotFoundError
from profiles.models import Subject


class RegionNotAllowed(ForbiddenError):
    code = "region_not_allowed"


def region_check(*, region: str, actor: Actor) -> None:
    """Refuse a write for a region outside the actor's scope (403 `region_not_allowed`)."""
    if not actor.covers(region):
        raise RegionNotAllowed("Outside your region scope.", fields={"region": ["not allowed"]})


def subject_scope_check(subject: Subject, actor: Actor) -> None:
    """A subject outside the actor's regions does not exist for them (404, never 403)."""
    if not actor.covers(subject.region):
        raise NotFoundError("Subject not found.")
