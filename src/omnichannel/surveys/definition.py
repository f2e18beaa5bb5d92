"""A survey document: NPS, CSAT, CES or custom questions, checked once when it is saved.

YAML or JSON, for example::

    name: store-nps
    kind: nps                      # nps | csat | ces | custom
    title: {en: "How did we do?", zh: 您对我们满意吗}
    resurvey_after: 30d            # nobody is asked again (any survey) within this
    questions:
      - {id: score, type: scale, min: 0, max: 10,
         text: {en: "How likely are you to recommend us?", zh: 您向朋友推荐我们的可能性有多大}}
      - {id: why, type: text, show_if: {question: score, lte: 6},
         text: {en: "What went wrong?", zh: 哪里做得不好}}
      - {id: topics, type: multiple, options: [{value: price, label: {en: Price, zh: 价格}}]}

Question types: ``single`` and ``multiple`` choice (``options``), ``scale`` (``min`` to
``max``, integers), ``text`` (free text). ``show_if`` shows a question only when an
earlier one's answer ``equals``, is ``in``, ``lte`` or ``gte`` a value. The survey's
score is ``score_question``'s answer (default: the first scale question); for ``nps`` it
must be a 0-10 scale, for ``csat`` 1-5, for ``ces`` 1-7.

Every error names its path (``questions[1].show_if.question``), the value and what is
accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from omnichannel.analytics.funnels.definition import parse_duration
from omnichannel.errors import ValidationError
from omnichannel.segments.definition import read_document

KINDS = ("nps", "csat", "ces", "custom")
TYPES = ("single", "multiple", "scale", "text")
# The scale each standard kind's score question must have.
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
LANGS = ("en", "zh")


def _text(value: object) -> object:
    return {"en": value} if isinstance(value, str) else value


Text = Annotated[
    dict[Literal["en", "zh"], Annotated[str, Field(min_length=1)]], BeforeValidator(_text)
]


def _duration(value: object) -> timedelta:
    return parse_duration(value, "resurvey_after")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Doc):
    value: Annotated[str, Field(min_length=1, max_length=100)]
    label: Text


class ShowIf(_Doc):
    """Show a question only when an earlier question's answer matches."""

    question: str
    equals: Any = None
    in_: list[Any] | None = Field(None, alias="in")
    lte: float | None = None
    gte: float | None = None

    def holds(self, answer: Any) -> bool:
        if answer is None or answer == "" or answer == []:
            return False
        values = answer if isinstance(answer, list) else [answer]
        if self.equals is not None and str(self.equals) not in {str(v) for v in values}:
            return False
        if self.in_ is not None and not {str(v) for v in self.in_} & {str(v) for v in values}:
            return False
        for bound, keep in ((self.lte, lambda x, b: x <= b), (self.gte, lambda x, b: x >= b)):
            if bound is not None:
                try:
                    if not keep(float(values[0]), bound):
                        return False
                except (TypeError, ValueError):
                    return False
        return True


class Question(_Doc):
    id: str
    type: Literal["single", "multiple", "scale", "text"]
    text: Text
    required: bool = False
    options: list[Option] = Field(default_factory=list)
    min: int | None = None
    max: int | None = None
    min_label: Text | None = None
    max_label: Text | None = None
    show_if: ShowIf | None = None
    max_length: int = Field(2000, ge=1, le=10000)

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if not QUESTION_ID.match(self.id):
            raise ValueError(f"id: {self.id!r} is not a question id (a-z, 0-9, _; 50 at most)")
        if self.type in ("single", "multiple"):
            if len(self.options) < 2:
                raise ValueError("options: a choice question needs two options or more")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError(f"options: option values repeat ({', '.join(values)})")
        elif self.options:
            raise ValueError(
                f"options: only single and multiple choice have options, not {self.type}"
            )
        if self.type == "scale":
            low, high = self.min, self.max
            if low is None or high is None or not 0 <= low < high <= 100:
                raise ValueError(
                    f"max: a scale needs integers 0 <= min < max <= 100, got {low}..{high}"
                )
        return self


class SurveyDefinition(_Doc):
    name: str
    kind: Literal["nps", "csat", "ces", "custom"]
    title: Text
    description: Text | None = None
    thanks: Text | None = None
    questions: Annotated[list[Question], Field(min_length=1, max_length=50)]
    score_question: str | None = None
    resurvey_after: Annotated[timedelta, BeforeValidator(_duration)] = timedelta(days=30)

    @model_validator(mode="after")
    def _links(self) -> SurveyDefinition:
        if not NAME.match(self.name):
            raise ValueError(f"name: {self.name!r} is not a slug (a-z, 0-9, - and _)")
        seen: list[str] = []
        for i, q in enumerate(self.questions):
            if q.id in seen:
                raise ValueError(f"questions[{i}].id: {q.id!r} is used by an earlier question")
            if q.show_if is not None and q.show_if.question not in seen:
                raise ValueError(
                    f"questions[{i}].show_if.question: {q.show_if.question!r} is not an earlier "
                    f"question ({', '.join(seen) or 'none before it'})"
                )
            seen.append(q.id)
        score = self.score_id
        if self.score_question is not None and score not in seen:
            raise ValueError(f"score_question: {self.score_question!r} is not a question")
        if self.kind in SCALES:
            low, high = SCALES[self.kind]
            question = self.question(score) if score else None
            if question is None or (question.min, question.max) != (low, high):
                raise ValueError(
                    f"score_question: a {self.kind} survey needs a {low}-{high} scale question "
                    "as its score (the first scale question, or score_question)"
                )
        return self

    @property
    def score_id(self) -> str | None:
        if self.score_question is not None:
            return self.score_question
        return next((q.id for q in self.questions if q.type == "scale"), None)

    def question(self, question_id: str | None) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def visible(self, answers: Mapping[str, Any]) -> list[Question]:
        """The questions shown given the answers so far (conditions on earlier answers)."""
        return [
            q
            for q in self.questions
            if q.show_if is None or q.show_if.holds(answers.get(q.show_if.question))
        ]

    def document(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        out["resurvey_after"] = f"{int(self.resurvey_after.total_seconds())}s"
        return out


def parse_survey(doc: Mapping[str, Any] | str) -> SurveyDefinition:
    """A survey from a mapping, or JSON or YAML text; errors name the path."""
    data = read_document(doc, "an object with name, kind, title and questions")
    try:
        return SurveyDefinition.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = _path(first["loc"]) or "survey"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        value = first.get("input")
        if ": " in message and first["type"] == "value_error":
            inner, message = message.split(": ", 1)
            path = (
                inner
                if inner.startswith("questions[") or not path or path == "survey"
                else f"{path}.{inner}"
            )
            value = _at(data, path)
        raise ValidationError(path, value, message) from None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-before[_text(), dict[...]]",) or str(part).startswith("function-"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _at(data: Any, path: str) -> Any:
    """The value at ``questions[1].show_if.question`` of the document, when it is there."""
    value = data
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def localised(text: Mapping[Any, str] | None, lang: str) -> str:
    """``text`` in ``lang``, else English, else any language given."""
    if not text:
        return ""
    return text.get(lang) or text.get("en") or next(iter(text.values()))


def category_of(kind: str, score: float | None) -> str | None:
    """NPS: promoter 9-10, passive 7-8, detractor 0-6. CSAT (1-5): satisfied 4-5, neutral
    3, dissatisfied 1-2. CES (1-7, "easy to deal with"): easy 5-7, neutral 4, difficult 1-3."""
    if score is None:
        return None
    if kind == "nps":
        return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    if kind == "csat":
        return "satisfied" if score >= 4 else "neutral" if score >= 3 else "dissatisfied"
    if kind == "ces":
        return "easy" if score >= 5 else "neutral" if score >= 4 else "difficult"
    return None


NEGATIVE = ("detractor", "dissatisfied", "difficult")


def check_answers(definition: SurveyDefinition, given: Mapping[str, Any]) -> dict[str, Any]:
    """The answers to keep: each checked against its question (unknown ids, a value out of
    the scale or not an option are errors naming the question); answers to questions
    their condition hides are dropped."""
    kept: dict[str, Any] = {}
    by_id = {q.id: q for q in definition.questions}
    for key in given:
        if key not in by_id:
            raise ValidationError(
                f"answers.{key}", given[key], f"one of the questions: {', '.join(by_id)}"
            )
    for q in definition.questions:
        if q.id not in given:
            continue
        if q.show_if is not None and not q.show_if.holds(kept.get(q.show_if.question)):
            continue
        value = _answer(q, given[q.id])
        if value is not None:
            kept[q.id] = value
    return kept


def _answer(q: Question, raw: Any) -> Any:
    field = f"answers.{q.id}"
    if raw is None or raw == "" or raw == []:
        return None
    if q.type == "scale":
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValidationError(field, raw, f"a whole number from {q.min} to {q.max}") from None
        assert q.min is not None and q.max is not None
        if not q.min <= value <= q.max:
            raise ValidationError(field, raw, f"a whole number from {q.min} to {q.max}")
        return value
    options = [o.value for o in q.options]
    if q.type == "single":
        if str(raw) not in options:
            raise ValidationError(field, raw, f"one of {', '.join(options)}")
        return str(raw)
    if q.type == "multiple":
        values = raw if isinstance(raw, list) else [raw]
        bad = [v for v in values if str(v) not in options]
        if bad:
            raise ValidationError(field, bad, f"some of {', '.join(options)}")
        return [o for o in options if o in {str(v) for v in values}]
    text = str(raw).strip()
    if len(text) > q.max_length:
        raise ValidationError(field, text[:40] + "...", f"at most {q.max_length} characters")
    return text or None


KINDS_HELP = "nps, csat, ces or custom"
TYPES_HELP = ", ".join(TYPES)
