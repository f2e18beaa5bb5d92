"""What a page leaves untranslated: each message its Python module and Jinja templates
mark for translation that the Chinese catalogue has no text for."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

WEB = Path(__file__).parents[2] / "src" / "omnichannel" / "web"


def untranslated(*files: Path, lang: str = "zh") -> list[str]:
    """``"<file name>: <message>"`` for each message of ``files`` without a ``lang`` text."""
    with (WEB / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    missing = []
    for path in files:
        method = "python" if path.suffix == ".py" else "jinja2"
        options = {"extensions": "jinja2.ext.i18n"} if method == "jinja2" else {}
        for _line, message, _c, _x in extract_from_file(method, str(path), options=options):
            msgid = message if isinstance(message, str) else message[0]
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                missing.append(f"{path.name}: {msgid}")
    return missing
