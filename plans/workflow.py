"""The plan status workflow: which move exists and which team roles may make it.

This table is the one place that says so; `plan_transition` (services) and the
plan page (which buttons to show) both ask `allowed_roles`/`moves_for_role`.
"""

from __future__ import annotations

from patchplan.teams.roles import Role
from plans.choices import PlanStatus as S

_PLANNERS = frozenset({Role.ADMIN, Role.PLANNER})
_APPROVERS = frozenset({Role.ADMIN, Role.APPROVER})
_DOERS = frozenset({Role.ADMIN, Role.PLANNER, Role.ENGINEER})

# (from, to) -> the roles that may make the move. A pair not listed is not a move.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (S.DRAFT, S.IN_REVIEW): _PLANNERS,
    (S.IN_REVIEW, S.DRAFT): _PLANNERS | _APPROVERS,  # sent back for changes
    (S.IN_REVIEW, S.APPROVED): _APPROVERS,
    (S.APPROVED, S.DRAFT): _PLANNERS,  # reopened: needs a new review
    (S.APPROVED, S.IN_PROGRESS): _DOERS,
    # No move to completed: a plan completes only when its review is signed off
    # (plans.services.signoff), "completed" or "completed with exceptions".
    (S.IN_PROGRESS, S.ROLLED_BACK): _DOERS,
    (S.DRAFT, S.CANCELLED): _PLANNERS,
    (S.IN_REVIEW, S.CANCELLED): _PLANNERS,
    (S.APPROVED, S.CANCELLED): _PLANNERS,
    (S.IN_PROGRESS, S.CANCELLED): _PLANNERS,
}

# Ends: no move leaves them.
FINAL = frozenset({S.COMPLETED, S.COMPLETED_EXC, S.CANCELLED, S.ROLLED_BACK})

# With the team's four-eyes rule on, the plan's owner may not make these moves
# (nobody approves their own plan).
FOUR_EYES_MOVES = frozenset({(S.IN_REVIEW, S.APPROVED)})


def allowed_roles(from_status: str, to_status: str) -> frozenset[str]:
    """The roles that may move a plan from `from_status` to `to_status` (empty: no such move)."""
    return TRANSITIONS.get((from_status, to_status), frozenset())


def can_move(*, role: str | None, from_status: str, to_status: str) -> bool:
    return role is not None and role in allowed_roles(from_status, to_status)


def moves_for_role(*, role: str | None, from_status: str) -> list[str]:
    """The statuses a person with `role` may move a plan in `from_status` to, in table order."""
    return [to for (frm, to), roles in TRANSITIONS.items() if frm == from_status and role in roles]


def may_move_plans(role: str | None) -> bool:
    """Whether `role` makes any status move at all (viewers make none)."""
    return role is not None and any(role in roles for roles in TRANSITIONS.values())
