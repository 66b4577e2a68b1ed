"""The ticket lifecycle of the product brief, as an explicit state machine.

    new → accepted → planned and/or in_progress → resolved → closed
    side exits: rejected (reason required), withdrawn (by the author), merged (into a duplicate)
    a resident who is not satisfied reopens a resolved ticket (back to in_progress)

This module only decides; ``models.tickets.change_status`` applies a decision, writes the event
and tells the author and endorsers, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.tables import TicketStatus as S


class Actor(StrEnum):
    """Who acts on a ticket, relative to it."""

    author = "author"  # the resident who wrote it
    worker = "worker"  # a worker responsible for its compound
    admin = "admin"  # district / city staff
    system = "system"  # the scheduler and surveys


STAFF = frozenset({Actor.worker, Actor.admin})


@dataclass(frozen=True, slots=True)
class Transition:
    source: S
    target: S
    actors: frozenset[Actor]
    action: str  # the event's name in the ticket's history
    note_required: bool = False


def _t(
    source: S, target: S, actors: frozenset[Actor], action: str, *, note: bool = False
) -> Transition:
    return Transition(source, target, actors, action, note)


_OPEN = (S.new, S.accepted, S.planned, S.in_progress)

TRANSITIONS: tuple[Transition, ...] = (
    _t(S.new, S.accepted, STAFF, "accepted"),
    _t(S.accepted, S.planned, STAFF, "planned"),
    _t(S.accepted, S.in_progress, STAFF, "started"),
    _t(S.planned, S.in_progress, STAFF, "started"),
    _t(S.in_progress, S.planned, STAFF, "planned"),
    _t(S.accepted, S.resolved, STAFF, "resolved"),
    _t(S.planned, S.resolved, STAFF, "resolved"),
    _t(S.in_progress, S.resolved, STAFF, "resolved"),
    # Closing: by staff, or by the system after a good survey or no answer.
    _t(S.resolved, S.closed, STAFF | {Actor.system}, "closed"),
    # Reopening: the author is not satisfied, or a survey scored 1–2.
    _t(S.resolved, S.in_progress, frozenset({Actor.author, Actor.system}), "reopened"),
    *(_t(s, S.rejected, STAFF, "rejected", note=True) for s in (S.new, S.accepted, S.planned)),
    *(_t(s, S.merged, STAFF, "merged") for s in (S.new, S.accepted)),
    *(_t(s, S.withdrawn, frozenset({Actor.author}), "withdrawn") for s in _OPEN),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}

OPEN_STATUSES = frozenset(_OPEN)
FINAL_STATUSES = frozenset({S.closed, S.rejected, S.withdrawn, S.merged})
# Tickets that count for the resolution rate: everything but withdrawn and merged ones.
COUNTED_STATUSES = frozenset(S) - {S.withdrawn, S.merged}


class IllegalTransition(Exception):
    """Raised when a status change is not allowed; nothing has been changed."""

    def __init__(self, source: str, target: str, actor: Actor, reason: str) -> None:
        super().__init__(f"cannot move a ticket from {source} to {target} as {actor}: {reason}")
        self.source, self.target, self.actor, self.reason = source, target, actor, reason


def check_transition(source: str, target: str, actor: Actor, note: str | None = None) -> Transition:
    """The transition from ``source`` to ``target`` if ``actor`` may make it, else raise."""
    transition = _BY_PAIR.get((S(source), S(target)))
    if transition is None:
        raise IllegalTransition(source, target, actor, "no such step in the lifecycle")
    if actor not in transition.actors:
        allowed = ", ".join(sorted(transition.actors))
        raise IllegalTransition(source, target, actor, f"only {allowed} may")
    if transition.note_required and not (note and note.strip()):
        raise IllegalTransition(source, target, actor, "a reason is required")
    return transition


def next_statuses(source: str, actor: Actor) -> list[S]:
    """Where ``actor`` may move a ticket from ``source``, in lifecycle order (for buttons)."""
    return [t.target for t in TRANSITIONS if t.source == source and actor in t.actors]
