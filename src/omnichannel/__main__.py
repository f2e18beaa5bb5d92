"""``python -m omnichannel`` runs the ``omni`` command line."""

from __future__ import annotations

from omnichannel.cli import main

main()
