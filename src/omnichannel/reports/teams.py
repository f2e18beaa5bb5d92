"""Teams: a named set of users that reports are shared with (``platform.reports.teams``).

Example::

    teams = platform.reports.teams
    teams.create("growth", description="campaign analysts", actor="ana@shop.example")
    teams.add("growth", "li@shop.example", actor="ana@shop.example")
    teams.of_user("li@shop.example")          # ["growth"]
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnichannel.access import audit
from omnichannel.access.users import check_email
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import Team, TeamMember, User

if TYPE_CHECKING:
    from omnichannel.platform import Platform

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


def check_team_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError(
            "team", name, "a name of lower-case letters, digits, '-', '_' or '.' (up to 100)"
        )
    return name


def team_row(session: Session, name: str) -> Team:
    found = session.scalars(select(Team).where(Team.name == check_team_name(name))).first()
    if found is None:
        raise NotFoundError(f"no team named {name!r} (see `omni teams list`)")
    return found


def member_emails(session: Session, team_id: int, *, active_only: bool = False) -> list[str]:
    query = (
        select(User.email)
        .join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team_id)
        .order_by(User.email)
    )
    if active_only:
        query = query.where(User.active.is_(True))
    return list(session.scalars(query))


def _public(session: Session, team: Team) -> dict[str, Any]:
    return {
        "name": team.name,
        "description": team.description,
        "members": member_emails(session, team.id),
        "created_by": team.created_by,
        "created_at": team.created_at,
    }


class Teams:
    """Create and list teams, add and remove their members; every change audited."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def create(self, name: str, *, description: str = "", actor: str = "system") -> dict[str, Any]:
        check_team_name(name)
        try:
            with self._platform.opstore.session() as session:
                team = Team(name=name, description=description, created_by=actor)
                session.add(team)
                session.flush()
                after = _public(session, team)
                audit.record(session, actor, "team.create", f"team:{name}", None, after)
        except IntegrityError:
            raise ConflictError(f"a team named {name!r} exists") from None
        return self.show(name)

    def list(self) -> builtins.list[dict[str, Any]]:
        with self._platform.opstore.session() as session:
            return [_public(session, t) for t in session.scalars(select(Team).order_by(Team.name))]

    def show(self, name: str) -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            return _public(session, team_row(session, name))

    def add(self, name: str, email: str, *, actor: str = "system") -> dict[str, Any]:
        """Put the user ``email`` in the team (already there: nothing changes)."""
        with self._platform.opstore.session() as session:
            team = team_row(session, name)
            user = self._user(session, email)
            before = _public(session, team)
            if session.get(TeamMember, (team.id, user.id)) is None:
                session.add(TeamMember(team_id=team.id, user_id=user.id))
                session.flush()
                after = _public(session, team)
                audit.record(session, actor, "team.add", f"team:{name}", before, after)
            return _public(session, team)

    def remove(self, name: str, email: str, *, actor: str = "system") -> dict[str, Any]:
        with self._platform.opstore.session() as session:
            team = team_row(session, name)
            user = self._user(session, email)
            member = session.get(TeamMember, (team.id, user.id))
            if member is None:
                raise NotFoundError(f"{email} is not in the team {name!r}")
            before = _public(session, team)
            session.delete(member)
            session.flush()
            after = _public(session, team)
            audit.record(session, actor, "team.remove", f"team:{name}", before, after)
            return after

    def delete(self, name: str, *, actor: str = "system") -> None:
        """Delete the team; reports shared with it become their owners' private ones."""
        with self._platform.opstore.session() as session:
            team = team_row(session, name)
            before = _public(session, team)
            session.delete(team)
            audit.record(session, actor, "team.delete", f"team:{name}", before, None)

    def of_user(self, email: str) -> builtins.list[str]:
        """The names of the teams ``email`` is in."""
        with self._platform.opstore.session() as session:
            query = (
                select(Team.name)
                .join(TeamMember, TeamMember.team_id == Team.id)
                .join(User, User.id == TeamMember.user_id)
                .where(User.email == email.strip().lower())
                .order_by(Team.name)
            )
            return list(session.scalars(query))

    @staticmethod
    def _user(session: Session, email: str) -> User:
        found = session.scalars(select(User).where(User.email == check_email(email))).first()
        if found is None:
            raise NotFoundError(f"no user with email {email!r} (see `omni users list`)")
        return found
