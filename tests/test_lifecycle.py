"""The ticket lifecycle: every pair of statuses and every actor, checked against the brief."""

from __future__ import annotations

import itertools

import pytest

from models.lifecycle import FINAL_STATUSES, Actor, IllegalTransition, check_transition
from models.tables import TicketStatus as S

STAFF = {Actor.worker, Actor.admin}
# The product brief's lifecycle, written out independently of models/lifecycle.py.
EXPECTED: dict[tuple[S, S], set[Actor]] = {
    (S.new, S.accepted): STAFF,
    (S.accepted, S.planned): STAFF,
    (S.accepted, S.in_progress): STAFF,
    (S.planned, S.in_progress): STAFF,
    (S.in_progress, S.planned): STAFF,
    (S.accepted, S.resolved): STAFF,
    (S.planned, S.resolved): STAFF,
    (S.in_progress, S.resolved): STAFF,
    (S.resolved, S.closed): STAFF | {Actor.system},
    (S.resolved, S.in_progress): {Actor.author, Actor.system},
    (S.new, S.rejected): STAFF,
    (S.accepted, S.rejected): STAFF,
    (S.planned, S.rejected): STAFF,
    (S.new, S.merged): STAFF,
    (S.accepted, S.merged): STAFF,
    (S.new, S.withdrawn): {Actor.author},
    (S.accepted, S.withdrawn): {Actor.author},
    (S.planned, S.withdrawn): {Actor.author},
    (S.in_progress, S.withdrawn): {Actor.author},
}
CASES = list(itertools.product(S, S, Actor))


@pytest.mark.parametrize(("source", "target", "actor"), CASES)
def test_every_transition_is_allowed_exactly_as_the_brief_says(
    source: S, target: S, actor: Actor
) -> None:
    allowed = actor in EXPECTED.get((source, target), set())
    note = "理由：不在改造范围" if target == S.rejected else None
    if allowed:
        transition = check_transition(source, target, actor, note)
        assert (transition.source, transition.target) == (source, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(source, target, actor, note)


def test_rejection_needs_a_reason() -> None:
    with pytest.raises(IllegalTransition, match="reason"):
        check_transition(S.new, S.rejected, Actor.worker, "  ")


def test_final_statuses_lead_nowhere() -> None:
    for source in FINAL_STATUSES:
        for target in S:
            for actor in Actor:
                with pytest.raises(IllegalTransition):
                    check_transition(source, target, actor, "note")


def test_error_names_the_step_and_who_may() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(S.new, S.accepted, Actor.author)
    assert "new" in str(caught.value) and "accepted" in str(caught.value)
    assert "admin, worker" in str(caught.value)
