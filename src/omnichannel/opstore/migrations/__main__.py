"""``python -m omnichannel.opstore.migrations revision "message"``: see ``opstore.migrate``."""

from __future__ import annotations

from omnichannel.opstore.migrate import main

main()
