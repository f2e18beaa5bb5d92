"""``platform.surveys``: define surveys once, ask on any channel, keep the answers.

Example::

    with Platform.open("omni-home") as platform:
        platform.surveys.create(open("store-nps.yaml").read(), actor="ana@shop.example")
        platform.surveys.send("store-nps", channel="email", identifier="email:ann@example.com",
                              template="nps-invite")      # {{ survey_link }} in the template
        platform.surveys.prompt("store-nps", identifier="user_id:42")   # in-app
        platform.surveys.receipt_qr("store-nps", store="sh-01", receipt="R-1001")  # SVG
        platform.surveys.results("store-nps", by="channel", change="2026-11-01")

A send is a message like any other (``platform.messages.send`` with ``data: {survey:
NAME}``): consent, suppressions, frequency caps and quiet hours apply, and it counts
against the caps. The send path asks ``surveys.sending`` for each person's signed link
(``{{ survey_link }}``) and drops the message (``survey_fatigue``) for a person asked any
survey within the survey's ``resurvey_after``. Answers arrive through the hosted page
(``/s/<token>``, ``web/survey_answer.py``) or the in-app API; see ``answers.py``.
"""

from __future__ import annotations

import builtins
import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from omnichannel.access.audit import record as audit_record
from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.opstore.models import (
    Survey,
    SurveyInvitation,
    SurveyResponse,
    SurveyVersion,
    utcnow,
)
from omnichannel.surveys.definition import SurveyDefinition, parse_survey
from omnichannel.surveys.links import SurveyLinks

if TYPE_CHECKING:
    from omnichannel.platform import Platform

QR_FORMATS = ("svg", "png")


class SurveysCapability:
    """Surveys (C19) on the operational store; answers also become events and traits."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._links: SurveyLinks | None = None

    @property
    def links(self) -> SurveyLinks:
        if self._links is None:
            self._links = SurveyLinks.of(self._platform)
        return self._links

    # --- definitions ---------------------------------------------------------------

    def create(self, document: Mapping[str, Any] | str, *, actor: str = "system") -> dict[str, Any]:
        """Store a new survey (a mapping, or JSON or YAML text) as its version 1."""
        definition = parse_survey(document)
        try:
            with self._platform.opstore.session() as session:
                row = Survey(
                    name=definition.name, kind=definition.kind, version=1, created_by=actor
                )
                session.add(row)
                session.flush()
                session.add(
                    SurveyVersion(
                        survey_id=row.id,
                        version=1,
                        definition=definition.document(),
                        created_by=actor,
                    )
                )
                session.flush()
                after = self._public(row, session)
                audit_record(session, actor, "survey.create", f"survey:{row.name}", None, after)
        except IntegrityError:
            raise ConflictError(
                f"a survey named {definition.name!r} exists: save a new version with "
                "omni surveys create --file F --new-version (POST /api/surveys/{name}/versions)"
            ) from None
        return self.show(definition.name)

    def save_version(
        self, document: Mapping[str, Any] | str, *, actor: str = "system"
    ) -> dict[str, Any]:
        """A new version of an existing survey; answers keep the version they were given on."""
        definition = parse_survey(document)
        with self._platform.opstore.session() as session:
            row = self._row(session, definition.name)
            if definition.kind != row.kind:
                raise ValidationError(
                    "kind",
                    definition.kind,
                    f"{row.kind}, the survey's kind (answers would not compare)",
                )
            before = self._public(row, session)
            row.version += 1
            row.updated_at = utcnow()
            session.add(
                SurveyVersion(
                    survey_id=row.id,
                    version=row.version,
                    definition=definition.document(),
                    created_by=actor,
                )
            )
            session.flush()
            after = self._public(row, session)
            audit_record(session, actor, "survey.version", f"survey:{row.name}", before, after)
        return self.show(definition.name)

    def list(self) -> builtins.list[dict[str, Any]]:
        with self._platform.opstore.session() as session:
            rows = session.scalars(select(Survey).order_by(Survey.name)).all()
            return [self._public(r, session) for r in rows]

    def show(self, name: str, *, version: int | None = None) -> dict[str, Any]:
        """The survey, the document of ``version`` (default the current one), its counts."""
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            out = self._public(row, session)
            stored = self._version(session, row, version)
            out["definition"] = stored.definition
            out["shown_version"] = stored.version
            out["versions"] = [
                {"version": v.version, "created_by": v.created_by, "created_at": v.created_at}
                for v in session.scalars(
                    select(SurveyVersion)
                    .where(SurveyVersion.survey_id == row.id)
                    .order_by(SurveyVersion.version)
                )
            ]
            return out

    def definition(self, name: str, version: int | None = None) -> SurveyDefinition:
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            return parse_survey(self._version(session, row, version).definition)

    # --- asking --------------------------------------------------------------------

    def send(
        self,
        name: str,
        *,
        channel: str,
        identifier: str | None = None,
        profile_id: str | None = None,
        template: str | None = None,
        content: Mapping[str, Any] | None = None,
        campaign: str | None = None,
        idempotency_key: str | None = None,
        origin: str = "api",
        data: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One person's invitation as a message (``{{ survey_link }}`` in its template);
        the send path's answer, with ``survey_link`` when one was made."""
        self._check_exists(name)
        result = self._platform.messages.send(
            channel=channel,
            identifier=identifier,
            profile_id=profile_id,
            template=template,
            content=dict(content) if content is not None else None,
            campaign=campaign or f"survey:{name}",
            idempotency_key=idempotency_key,
            origin=origin,
            kind="marketing",
            data={**(data or {}), "survey": name},
        )
        return {**result, "survey": name, **self._link_of(result.get("idempotency_key"))}

    def send_segment(
        self,
        name: str,
        segment: str,
        *,
        channel: str,
        template: str | None = None,
        content: Mapping[str, Any] | None = None,
        campaign: str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """Every member of ``segment`` (a campaign): each keyed by campaign, channel and
        profile, so running it again reaches nobody twice; counts by status and reason."""
        self._check_exists(name)
        campaign = campaign or f"survey:{name}"
        members = self._platform.segments.members(segment, limit=limit)["profile_ids"]
        threshold = self._platform.messages.large_sends.threshold
        if len(members) > threshold:
            raise ValidationError(
                "segment",
                segment,
                f"a segment of at most {threshold:,} people (OMNI_LARGE_SEND_THRESHOLD); "
                f"this one has {len(members):,}: send through a journey or in parts (limit)",
            )
        results = self._platform.messages.send_many(
            {
                "channel": channel,
                "profile_id": pid,
                "template": template,
                "content": dict(content) if content is not None else None,
                "campaign": campaign,
                "idempotency_key": f"campaign:{campaign}:{channel}:{pid}",
                "origin": "campaign",
                "kind": "marketing",
                "data": {"survey": name},
            }
            for pid in members
        )
        counts: dict[str, int] = {}
        for r in results:
            key = r.get("reason") or r.get("status") or "error"
            counts[key] = counts.get(key, 0) + 1
        return {"survey": name, "segment": segment, "members": len(members), "outcomes": counts}

    def prompt(
        self,
        name: str,
        *,
        identifier: str | None = None,
        profile_id: str | None = None,
        lang: str = "en",
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """What the app shows this person now: the survey with its link, or why not
        (``answered``, ``survey_fatigue``). Showing it counts as asking (fatigue)."""
        from omnichannel.surveys import sending

        now = now or utcnow()
        pid = profile_id or self._profile_of(identifier)
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            definition = parse_survey(self._version(session, row, None).definition)
            mine = session.scalars(
                select(SurveyInvitation)
                .where(
                    SurveyInvitation.survey_id == row.id,
                    SurveyInvitation.profile_id == pid,
                    SurveyInvitation.channel == "in_app",
                    SurveyInvitation.created_at >= now - definition.resurvey_after,
                )
                .order_by(SurveyInvitation.id.desc())
            ).first()
            if mine is not None:
                done = session.scalars(
                    select(SurveyResponse).where(
                        SurveyResponse.invitation_id == mine.id,
                        SurveyResponse.completed_at.is_not(None),
                    )
                ).first()
                if done is not None:
                    return {"survey": name, "show": False, "reason": "answered", "profile_id": pid}
                invitation = mine
            else:
                last = sending.last_asked(session, pid, now - definition.resurvey_after)
                if last is not None:
                    return {
                        "survey": name,
                        "show": False,
                        "reason": sending.FATIGUE,
                        "profile_id": pid,
                        "asked_at": last,
                        "until": last + definition.resurvey_after,
                    }
                invitation = SurveyInvitation(
                    survey_id=row.id,
                    version=row.version,
                    link_key=f"in_app:{row.id}:{pid}:{now.isoformat()}",
                    profile_id=pid,
                    channel="in_app",
                    created_at=now,
                )
                session.add(invitation)
                session.flush()
            token = self.links.token(invitation.id)
            return {
                "survey": name,
                "show": True,
                "profile_id": pid,
                "token": token,
                "url": self.links.url(invitation.id),
                "form_token": self.links.form_token(token),
                "questions": _questions_in(definition, lang),
                "title": _localised(definition.title, lang),
            }

    def receipt_qr(
        self,
        name: str,
        *,
        store: str,
        receipt: str,
        format: str = "svg",
        scale: int = 4,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """A QR code (SVG or PNG bytes) of the survey's link for one store receipt; the
        same receipt always gets the same link, answerable once."""
        import segno

        if format not in QR_FORMATS:
            raise ValidationError("format", format, " or ".join(QR_FORMATS))
        for field, value in (("store", store), ("receipt", receipt)):
            if not value or not value.strip() or len(value) > 100:
                raise ValidationError(field, value, "a store or receipt id of 1-100 characters")
        if not 1 <= scale <= 20:
            raise ValidationError("scale", scale, "a module size of 1 to 20 pixels")
        with self._platform.opstore.session() as session:
            row = self._row(session, name)
            key = f"receipt:{row.id}:{store}:{receipt}"
            invitation = session.scalars(
                select(SurveyInvitation).where(SurveyInvitation.link_key == key)
            ).first()
            if invitation is None:
                invitation = SurveyInvitation(
                    survey_id=row.id,
                    version=row.version,
                    link_key=key,
                    channel="receipt",
                    store=store,
                    receipt=receipt,
                    campaign=f"survey:{name}",
                    created_at=now or utcnow(),
                )
                session.add(invitation)
                session.flush()
            url = self.links.url(invitation.id)
        out = io.BytesIO()
        segno.make(url, error="m").save(out, kind=format, scale=scale, border=2)
        media = "image/svg+xml" if format == "svg" else "image/png"
        return {
            "survey": name,
            "store": store,
            "receipt": receipt,
            "url": url,
            "media_type": media,
            "image": out.getvalue(),
        }

    # --- answering -----------------------------------------------------------------

    def open(self, token: str, *, lang: str = "en") -> dict[str, Any]:
        """What the answer page shows for a link: the questions, the answers so far."""
        from omnichannel.surveys.answers import open_link

        return open_link(self._platform, self.links, token, lang=lang)

    def answer(
        self,
        token: str,
        answers: Mapping[str, Any],
        *,
        complete: bool = False,
        lang: str | None = None,
        emit: Any = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Keep ``answers`` for the link (partial answers kept as they come); with
        ``complete``, finish it: the ``Survey Answered`` event is stored, and the link
        answers nothing more (a replay is a ConflictError)."""
        from omnichannel.surveys.answers import answer_link

        return answer_link(
            self._platform,
            self.links,
            token,
            answers,
            complete=complete,
            lang=lang,
            emit=emit,
            now=now,
        )

    # --- reading -------------------------------------------------------------------

    def results(
        self,
        name: str,
        *,
        by: str | None = None,
        period: str = "week",
        segments: builtins.list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        change: datetime | str | None = None,
    ) -> dict[str, Any]:
        """The survey's figure (NPS, CSAT or CES) with its interval and response rate,
        overall, per ``by`` group (channel, store, campaign, segment), per ``period``
        (day, week, month), and before against after ``change`` (a date)."""
        from omnichannel.surveys.results import results

        return results(
            self._platform,
            name,
            by=by,
            period=period,
            segments=segments or [],
            since=since,
            until=until,
            change=change,
        )

    def responses(self, name: str, *, limit: int = 10_000) -> builtins.list[dict[str, Any]]:
        """Each response (partial ones too), newest first, with its link's channel and store."""
        from omnichannel.surveys.results import response_rows

        return response_rows(self._platform, name, limit=limit)

    def text(
        self,
        name: str,
        *,
        by: str = "store",
        period: str = "month",
        top: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """Free-text answers per store, channel or period: keywords (log-odds against the
        other groups) and lexicon sentiment (``surveys/text.py``)."""
        from omnichannel.surveys.text import summarise

        rows = [
            r
            for r in self.responses(name)
            if r.get("text")
            and (since is None or r["started_at"] >= _aware(since))
            and (until is None or r["started_at"] < _aware(until))
        ]
        return {"survey": name, **summarise(rows, by=by, period=period, top=top)}

    # --- helpers -------------------------------------------------------------------

    def _row(self, session: Any, name: str) -> Survey:
        row = session.scalars(select(Survey).where(Survey.name == name)).first()
        if row is None:
            known = (
                ", ".join(session.scalars(select(Survey.name).order_by(Survey.name))) or "none yet"
            )
            raise NotFoundError(f"no survey named {name!r} (surveys: {known})")
        return row

    def _check_exists(self, name: str) -> None:
        with self._platform.opstore.session() as session:
            self._row(session, name)

    def _version(self, session: Any, row: Survey, version: int | None) -> SurveyVersion:
        wanted = version or row.version
        stored = session.get(SurveyVersion, (row.id, wanted))
        if stored is None:
            raise NotFoundError(f"survey {row.name!r} has no version {wanted} (1 to {row.version})")
        return stored

    def _public(self, row: Survey, session: Any) -> dict[str, Any]:
        from sqlalchemy import func

        invited = session.scalar(
            select(func.count())
            .select_from(SurveyInvitation)
            .where(SurveyInvitation.survey_id == row.id)
        )
        answered = session.scalar(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.survey_id == row.id)
        )
        completed = session.scalar(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.survey_id == row.id, SurveyResponse.completed_at.is_not(None))
        )
        return {
            "name": row.name,
            "kind": row.kind,
            "version": row.version,
            "status": row.status,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "invited": int(invited or 0),
            "answered": int(answered or 0),
            "completed": int(completed or 0),
        }

    def _profile_of(self, identifier: str | None) -> str:
        if not identifier:
            raise ValidationError("identifier", identifier, "a person as TYPE:VALUE, or profile_id")
        with self._platform.warehouse.reader() as wh:
            return str(self._platform.lookup.find(wh, identifier).profile_id)

    def _link_of(self, key: str | None) -> dict[str, Any]:
        if not key:
            return {}
        with self._platform.opstore.session() as session:
            invitation = session.scalars(
                select(SurveyInvitation).where(SurveyInvitation.link_key == key)
            ).first()
            return {"survey_link": self.links.url(invitation.id)} if invitation else {}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _localised(text: Mapping[Any, str] | None, lang: str) -> str:
    from omnichannel.surveys.definition import localised

    return localised(text, lang)


def _questions_in(definition: SurveyDefinition, lang: str) -> builtins.list[dict[str, Any]]:
    """The questions as an app shows them: texts in ``lang``, conditions kept."""
    out = []
    for q in definition.questions:
        item: dict[str, Any] = {
            "id": q.id,
            "type": q.type,
            "text": _localised(q.text, lang),
            "required": q.required,
        }
        if q.options:
            item["options"] = [
                {"value": o.value, "label": _localised(o.label, lang)} for o in q.options
            ]
        if q.type == "scale":
            item.update(min=q.min, max=q.max)
        if q.show_if is not None:
            item["show_if"] = q.show_if.model_dump(by_alias=True, exclude_none=True)
        out.append(item)
    return out


RESURVEY_DEFAULT = timedelta(days=30)
