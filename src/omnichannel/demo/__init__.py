"""The demo business: Lotus & Pine, a synthetic Chinese omnichannel lifestyle retailer.

Example::

    from omnichannel.demo import DemoConfig, run_demo
    summary = run_demo(warehouse=wh, truth_dir=Path("truth"), config=DemoConfig(seed=7))
"""

from __future__ import annotations

from omnichannel.demo.model import DemoConfig, DemoSummary
from omnichannel.demo.runner import run_demo

__all__ = ["DemoConfig", "DemoSummary", "run_demo"]
