"""Ready-made segments shipped as editable definitions (the ``*.yaml`` files beside this).

RFM groups (one per ``rfm_segment`` label of ``profiles/traits/rfm.py``), CLV deciles,
lapsing customers, new and returning customers, store-only / online-only / omnichannel
shoppers and app users without push consent. Each file is an ordinary segment document:
copy one, change it, and create it as your own segment::

    from omnichannel.segments.ready_made import ready_made, ready_made_text
    ready_made()["lapsing-customers"].condition
    print(ready_made_text("lapsing-customers"))   # the YAML, comments included
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from omnichannel.errors import ValidationError
from omnichannel.segments.definition import SegmentDefinition, parse_definition


def _files() -> dict[str, str]:
    folder = resources.files(__name__)
    return {
        entry.name.removesuffix(".yaml"): entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


@cache
def ready_made() -> dict[str, SegmentDefinition]:
    """Every shipped definition by name (a file's name is its segment's name)."""
    found = {}
    for stem, text in _files().items():
        definition = parse_definition(text)
        if definition.name != stem:
            raise ValidationError(f"ready_made/{stem}.yaml name", definition.name, stem)
        found[stem] = definition
    return found


def ready_made_text(name: str) -> str:
    """The YAML of one shipped definition, comments included, to edit."""
    files = _files()
    if name not in files:
        raise ValidationError("ready-made segment", name, f"one of {', '.join(files)}")
    return files[name]
