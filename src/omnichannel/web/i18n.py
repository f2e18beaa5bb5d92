"""The pages' languages: English and Chinese message catalogues, the visitor's choice,
numbers and dates in their locale.

The catalogues are ``locale/<lang>/LC_MESSAGES/messages.po`` (Babel's format, extracted
from the templates and modules by ``pybabel extract -F babel.cfg``; see docs/web.md).
They are compiled in memory on first use, so an editable install and a wheel read the
same committed ``.po`` files and there is no build step to forget.

The language is, first to last: ``?lang=`` (the language switch, which also sets the
cookie), the ``omni_lang`` cookie, the browser's ``Accept-Language``, English.

Example::

    t = translations("zh")
    t.gettext("Customers")               # '客户'
    format_number(1234.5, "zh")         # '1,234.5'
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT = "en"
COOKIE = "omni_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
_BABEL_LOCALE = {"en": "en", "zh": "zh_Hans_CN"}
_current: ContextVar[str] = ContextVar("omni_web_locale", default=DEFAULT)


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang`` compiled from its ``.po`` (English: the source strings)."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.exists():
        return NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def _accepted(header: str) -> Iterator[str]:
    ranked = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        yield tag.split("-")[0]


def pick(request: Request) -> str:
    """The visitor's language: ``?lang=``, the cookie, ``Accept-Language``, English."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LOCALES:
            return candidate
    for tag in _accepted(request.headers.get("accept-language", "")):
        if tag in LOCALES:
            return tag
    return DEFAULT


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Templates rendered inside speak ``lang`` (gettext and the format filters)."""
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def babel_locale(lang: str | None = None) -> Locale:
    return Locale.parse(_BABEL_LOCALE[lang or current()])


def format_number(value: Any, lang: str | None = None, *, digits: int | None = None) -> str:
    """``value`` with the locale's grouping and decimal signs ('' for None)."""
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    if number.is_integer() and digits is None:
        return format_decimal(int(number), locale=babel_locale(lang))
    return format_decimal(number, format=pattern, locale=babel_locale(lang))


def format_rate(value: Any, lang: str | None = None) -> str:
    if value is None:
        return ""
    return format_percent(float(value), format="#,##0.0%", locale=babel_locale(lang))


def _as_datetime(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def format_when(value: Any, lang: str | None = None) -> str:
    """A date or time (stored naive values are UTC) in the locale's medium format."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value is None else str(value)
    if not isinstance(moment, datetime):
        return format_date(moment, format="medium", locale=babel_locale(lang))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, format="medium", tzinfo=UTC, locale=babel_locale(lang))
