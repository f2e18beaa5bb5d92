"""A document saved in another encoding than UTF-8 (a spreadsheet's export in Latin-1,
an editor's GBK) is refused in words naming the file and the first bad byte, by every
command that reads one: never a traceback (``omnichannel/textfiles.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.run import omni_in_process as omni

# "café" in Latin-1: 0xe9 at offset 9 is not UTF-8.
LATIN_1 = "name: café\n".encode("latin-1")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("encoding") / "home"
    omni("init", home=made)
    return made


@pytest.mark.parametrize(
    "command",
    [
        ["journeys", "validate", "--file"],
        ["identity", "rules", "--rules"],
        ["profiles", "build", "--tags"],
        ["funnel", "run"],
        ["surveys", "create", "--file"],
        ["prices", "set"],
        [
            "budget",
            "plan",
            "--starts",
            "2027-01-01",
            "--ends",
            "2027-02-01",
            "--total",
            "1000",
            "--model",
        ],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_file_that_is_not_utf8_is_refused_naming_the_byte(
    command: list[str], home: Path, tmp_path: Path
) -> None:
    document = tmp_path / "export.yaml"
    document.write_bytes(LATIN_1)
    done = omni(*command, str(document), home=home, check=False)
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in said
    assert "not UTF-8 text (byte 0xe9 at offset 9" in said, said
