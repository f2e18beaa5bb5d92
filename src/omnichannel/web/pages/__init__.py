"""The dashboard's pages, one module per area of the dashboard.

Each page calls the library layer the API routes call (``platform.*``, the profile
lookup and timeline, ``event_stats``, the collector's ``submit_calls``), never SQL of its
own. Every table has a CSV export on the page's own route (``?format=csv``, and
``&table=<id>`` when the page has several). Each module has its own ``router``; they are
gathered in ``router`` here, which ``api/app.py`` mounts once with the access layer's
sign-in check. A new page is a new module here, added to ``ROUTERS``, and its entry in
``render.NAV``.
"""

from __future__ import annotations

from fastapi import APIRouter

from omnichannel.web.pages import (
    analytics,
    budget,
    channels,
    comments,
    commerce,
    customers,
    journeys,
    me,
    messages,
    models,
    models_clusters,
    operations,
    overview,
    privacy,
    reports,
    segments,
    surveys,
)

ROUTERS = (
    overview.router,
    customers.router,
    segments.router,
    journeys.router,
    analytics.router,
    budget.router,
    commerce.router,
    reports.router,
    models.router,
    models_clusters.router,
    surveys.router,
    privacy.router,
    operations.router,
    messages.router,
    channels.router,
    me.router,
    comments.router,
)
router = APIRouter(include_in_schema=False)
for _page_router in ROUTERS:
    router.include_router(_page_router)
