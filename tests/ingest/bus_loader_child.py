"""A loader in its own process that stops between the warehouse commit and the XACK.

``test_bus_redis.py`` starts it, waits for its "stored" line and SIGKILLs it there: the
entries it read are still pending in the group, their events already in the warehouse.
Run as ``python -m tests.ingest.bus_loader_child REDIS_URL STREAM WAREHOUSE_URL``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omnichannel.ingest.bus_redis import RedisBus
from omnichannel.ingest.loader import load_once
from omnichannel.warehouse import open_warehouse


class StopsBeforeAck(RedisBus):
    def commit(self, offset: int) -> None:
        sys.stdout.write(f"stored {len(self._delivered)}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the test kills this process


def main(url: str, stream: str, warehouse_url: str, directory: str) -> None:
    bus = StopsBeforeAck(url, directory=Path(directory), stream=stream, consumer="doomed")
    with open_warehouse(warehouse_url) as wh:
        load_once(bus, wh)


if __name__ == "__main__":
    main(*sys.argv[1:5])
