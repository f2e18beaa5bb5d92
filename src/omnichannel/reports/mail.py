"""A report as an email: an HTML table, the same as text, and the CSV attached.

Sent through the one send path (``platform.messages.send`` on the email channel), so
the channel's worker delivers it over SMTP with its retries, and the delivery log
records it. The message is transactional (a colleague's report, not marketing) and
keyed by the report, the moment it was due and the address, so a job run twice sends
once.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

# Message parts are rendered as templates on the send path: the report's own text is
# data, so it is kept out of the template language.
_RAW_START, _RAW_END = "{% raw %}", "{% endraw %}"
MAX_EMAIL_ROWS = 500


def _raw(text: str) -> str:
    return _RAW_START + text.replace("{%", "{ %") + _RAW_END


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    return str(value)


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


_TH = "text-align:left;padding:4px 8px"
_TD = "padding:4px 8px;border-top:1px solid #ddd"


def html_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th style='{_TH}'>{html.escape(c)}</th>\n" for c in columns)
    # A line per cell: SMTP refuses lines over 998 octets (RFC 5321).
    body = "".join(
        "<tr>\n"
        + "".join(f"<td style='{_TD}'>{html.escape(_cell(r.get(c)))}</td>\n" for c in columns)
        + "</tr>\n"
        for r in rows[:MAX_EMAIL_ROWS]
    )
    return (
        f"<table style='border-collapse:collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def compose(
    report: Mapping[str, Any], result: Mapping[str, Any], link: str | None
) -> dict[str, Any]:
    """The email channel's content (subject, text, html, attachments) for one report run."""
    title = str(report["title"])
    columns, rows = list(result["columns"]), list(result["rows"])
    more = len(rows) - MAX_EMAIL_ROWS
    note = f"<p>{more:,} more rows are in the attached CSV.</p>" if more > 0 else ""
    open_link = f"<p><a href='{html.escape(link)}'>Open the report</a></p>" if link else ""
    page = (
        f"<html><body><h1 style='font-size:18px'>{html.escape(title)}</h1>\n"
        f"<p>{len(rows):,} rows · version {report['version']} · "
        f"by {html.escape(str(report['owner']))}</p>\n"
        f"{html_table(columns, rows)}{note}{open_link}</body></html>"
    )
    lines = [title, "", " | ".join(columns)]
    lines += [" | ".join(_cell(r.get(c)) for c in columns) for r in rows[:MAX_EMAIL_ROWS]]
    if link:
        lines += ["", link]
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title.lower()).strip("-")
    return {
        "subject": _raw(f"[omnichannel] report: {title}"),
        "text": _raw("\n".join(lines) + "\n"),
        "html": _raw(page),
        "attachments": [
            {
                "filename": f"{name or 'report'}.csv",
                "content_type": "text/csv",
                "content": _raw("\ufeff" + csv_text(columns, rows)),
            }
        ],
    }
