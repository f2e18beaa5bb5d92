"""One installation's configuration, read once: identity rules, tags, consent, region, clock.

``Settings`` says where things are (``OMNI_*`` variables, the home directory); this says
how the installation behaves, from the override files the user put in the home
(``identity-rules.yaml``, ``tags.yaml``, ``linkage.yaml``) or passed on the command line.
Every path that resolves, builds, reads or explains profiles takes its rules from here,
so a profile resolved under custom rules is read back under the same rules (a library
function given no rules would use the shipped ones, which is what went wrong before).

Example::

    config = InstallationConfig.load(get_settings())
    resolve(wh, rules=config.rules)
    build_profiles(wh, **config.build_options())
    timeline(wh, profile_id, rules=config.rules)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from omnichannel.config import Settings
from omnichannel.identity.rules import RULES_FILE_NAME, IdentityRules, load_rules
from omnichannel.profiles.tags import TAGS_FILE_NAME, TagSet, load_tags
from omnichannel.profiles.traits.consent import consent_table, read_consents
from omnichannel.profiles.traits.hours import DEFAULT_TIMEZONE, zone

LINKAGE_FILE_NAME = "linkage.yaml"
OPSTORE_FILE_NAME = "opstore.sqlite"
# Read here rather than in Settings so `omni profiles build --timezone` keeps its envvar.
TIMEZONE_VARIABLE = "OMNI_PROFILE_TIMEZONE"


@dataclass(frozen=True)
class InstallationConfig:
    """The settings-derived configuration of one installation; immutable once loaded."""

    settings: Settings
    rules: IdentityRules
    tags: TagSet
    linkage_config_path: Path | None
    # The operational store holding consent decisions, or None: a warehouse-only setup.
    consent_source: str | None
    default_region: str
    timezone: str

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        rules_file: Path | None = None,
        tags_file: Path | None = None,
        linkage_file: Path | None = None,
        timezone: str | None = None,
    ) -> InstallationConfig:
        """Read the home's override files (or the given ones) once; errors name the file."""
        zone_name = timezone or os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE
        zone(zone_name, "--timezone" if timezone else TIMEZONE_VARIABLE)
        return cls(
            settings=settings,
            rules=load_rules(rules_file or settings.home_file(RULES_FILE_NAME)),
            tags=load_tags(tags_file or settings.home_file(TAGS_FILE_NAME)),
            linkage_config_path=linkage_file or settings.home_file(LINKAGE_FILE_NAME),
            consent_source=_consent_source(settings),
            default_region=settings.default_region,
            timezone=zone_name,
        )

    def consents(self) -> pa.Table:
        """The consent rows profiles are built with (none without an operational store)."""
        if self.consent_source is None:
            return consent_table([])
        return read_consents(self.consent_source)

    def build_options(self) -> dict[str, Any]:
        """Keyword arguments of ``build_profiles`` that come from the installation."""
        return {
            "tags": self.tags,
            "rules": self.rules,
            "consents": self.consents(),
            "timezone": self.timezone,
        }


def _consent_source(settings: Settings) -> str | None:
    """The opstore URL when one is configured or exists in the home, else None."""
    if settings.opstore_url is not None or (settings.home / OPSTORE_FILE_NAME).exists():
        return settings.resolved_opstore_url
    return None
