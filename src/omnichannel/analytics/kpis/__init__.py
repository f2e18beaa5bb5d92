"""KPIs (C10): coverage, reach, CTR, engagement, conversion, revenue, ROI and CLV.

``catalogue`` defines each KPI (formula and inputs, docs/kpis.md), ``facts`` is the one
Ibis expression every KPI set is read from, ``coverage`` the channel and audience
coverage, ``stats`` the noise tests of a comparison, ``service`` the library face
(``platform.kpis``) that the CLI and the API call.
"""

from __future__ import annotations
