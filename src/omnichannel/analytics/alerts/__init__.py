"""Alerts (C10's feedback loop): rules that watch KPIs and tracking, and what they opened.

``rules`` is the rule document (YAML or JSON, checked, errors naming the path),
``detect`` evaluates each kind of rule against the warehouse, ``store`` keeps rules and
alerts in the operational store, ``notify`` sends an alert's opening and resolution by
webhook and email through the channels, ``service`` is ``platform.alerts``.
"""

from __future__ import annotations
