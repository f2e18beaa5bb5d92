"""Installations the CLI tests run against, built through the CLI itself."""

from __future__ import annotations

from pathlib import Path

import pytest

# The commands run in this process: what they do is under test, not process start-up.
from tests.cli.run import omni_in_process as omni

# CRM cells holding Rich markup and emoji codes: the CLI must print them as typed.
MARKUP_VALUES = ("[/b]", "[red]r[/red]", "[bold]Cy", ":smile:")
CRM_ROWS = 133  # more rows than --limit 100, so listings are truncated


@pytest.fixture(scope="module")
def crm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation holding CRM records, some refused as dead letters for bad emails.

    Rows 1-4 carry ``MARKUP_VALUES`` as their (refused) email; the other rows' emails are
    refused too (``not-an-email-N``), so there are ``CRM_ROWS`` pending dead letters.
    """
    base = tmp_path_factory.mktemp("crm")
    home = base / "home"
    omni("init", home=home)
    lines = ["record_id,email,first_name"]
    for i in range(1, CRM_ROWS + 1):
        email = MARKUP_VALUES[i - 1] if i <= len(MARKUP_VALUES) else f"not-an-email-{i}"
        name = MARKUP_VALUES[(i - 1) % len(MARKUP_VALUES)]
        lines.append(f'c{i},"{email}","{name}"')
    lines.append("ok1,ann@example.com,[red]Ann[/red]")
    export = base / "contacts.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    omni("ingest", str(export), "--kind", "crm", "--source", "crm", home=home)
    return home
