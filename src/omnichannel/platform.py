"""One installation, opened: the object the CLI, the API, jobs and pages are thin callers of.

``Platform`` owns what every face of the product shares: the settings-derived
configuration (identity rules, tags, consent source, region, time zone), the warehouse
with concurrent access (``warehouse.access``), the operational store, the Profile
lookup index, the ingest runtime, the background jobs and the durable event consumers.
Capabilities hang off it, in the manner of Splink's ``Linker``: ``platform.identity``,
``platform.profiles``, ``platform.segments``, ``platform.jobs``.

Example::

    from omnichannel.platform import Platform

    with Platform.open("omni-home") as platform:
        platform.identity.resolve()                  # incremental
        platform.profiles.build()                    # skipped when nothing changed
        card = platform.profiles.card("email:ann@example.com")
        run = platform.jobs.run("profiles")          # the same work, as a recorded job
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnichannel.config import Settings, get_settings
from omnichannel.segments.service import SegmentsCapability  # light: imports on use

if TYPE_CHECKING:
    from omnichannel.access.capability import AccessCapability
    from omnichannel.access.users import UsersCapability
    from omnichannel.analytics.alerts.service import AlertsCapability
    from omnichannel.analytics.attribution.service import AttributionCapability
    from omnichannel.analytics.experiments.service import ExperimentsCapability
    from omnichannel.analytics.funnels.service import FunnelsCapability
    from omnichannel.analytics.kpis.service import KpisCapability
    from omnichannel.analytics.retention import RetentionCapability
    from omnichannel.budget.service import BudgetCapability
    from omnichannel.channels.audiences import AudiencesCapability
    from omnichannel.channels.engagement import EngagementCapability
    from omnichannel.channels.service import ChannelsCapability, MessagesCapability
    from omnichannel.channels.templates import TemplatesCapability
    from omnichannel.clustering.service import ClustersCapability
    from omnichannel.collaboration.service import CollaborationCapability
    from omnichannel.commerce.service import CommerceCapability
    from omnichannel.configuration import InstallationConfig
    from omnichannel.consumers import ConsumerRunner
    from omnichannel.identity.resolve import ResolveReport
    from omnichannel.jobs import JobRegistry, JobRunner
    from omnichannel.journeys.service import JourneysCapability
    from omnichannel.mmm.service import MMMCapability
    from omnichannel.models.service import ModelsCapability
    from omnichannel.operations import OperationsCapability
    from omnichannel.opstore import OpStore
    from omnichannel.privacy.consent_service import ConsentCapability
    from omnichannel.privacy.partners import PartnersCapability
    from omnichannel.privacy.service import PrivacyCapability
    from omnichannel.profiles.build import BuildReport
    from omnichannel.profiles.lookup import ProfileLookup
    from omnichannel.propensity.service import PropensityCapability
    from omnichannel.recommendations.service import RecommendationsCapability
    from omnichannel.reports.service import ReportsCapability
    from omnichannel.sendtime.service import SendTimesCapability
    from omnichannel.surveys.service import SurveysCapability
    from omnichannel.warehouse.access import WarehouseAccess

Progress = Callable[[str, int, int], None]


class Platform:
    """One installation's configuration, stores, indexes, jobs and consumers."""

    def __init__(
        self,
        settings: Settings,
        *,
        config: InstallationConfig | None = None,
        background_nice: int = 0,
    ) -> None:
        """``background_nice``: a server's, so analytic work runs below its requests."""
        self.settings = settings
        self._config = config
        self.background_nice = background_nice
        self._lock = threading.Lock()
        self._warehouse: WarehouseAccess | None = None
        self._opstore: OpStore | None = None
        self.identity = IdentityCapability(self)
        self.profiles = ProfilesCapability(self)
        self.segments = SegmentsCapability(self)

    @classmethod
    def open(cls, home: str | Path | None = None, **settings: Any) -> Platform:
        """The installation in ``home`` (default ``OMNI_HOME`` or ./omni-home)."""
        return cls(get_settings(home=Path(home) if home is not None else None, **settings))

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what it owns ----------------------------------------------------------------

    @property
    def config(self) -> InstallationConfig:
        """Rules, tags, consent, region and time zone, read from the home once."""
        if self._config is None:
            from omnichannel.configuration import InstallationConfig

            with self._lock:
                if self._config is None:
                    self._config = InstallationConfig.load(self.settings)
        return self._config

    @property
    def warehouse(self) -> WarehouseAccess:
        """The warehouse, opened on first use, with per-thread readers and one writer."""
        if self._warehouse is None:
            from omnichannel.warehouse.access import WarehouseAccess

            with self._lock:
                if self._warehouse is None:
                    self.settings.ensure_home()
                    self._warehouse = WarehouseAccess.open(
                        self.settings.resolved_warehouse_url,
                        background_nice=self.background_nice,
                    )
        return self._warehouse

    @property
    def opstore(self) -> OpStore:
        """The operational store, opened (and migrated) on first use."""
        if self._opstore is None:
            from omnichannel.opstore import open_opstore

            with self._lock:
                if self._opstore is None:
                    self.settings.ensure_home()
                    # The keyring is read when a sealed column is first met, so a store
                    # that never touches one makes no key files.
                    self._opstore = open_opstore(
                        self.settings.resolved_opstore_url, sealer=lambda: self.privacy.keyring
                    )
        return self._opstore

    @cached_property
    def job_registry(self) -> JobRegistry:
        from omnichannel.jobs.builtin import builtin_jobs

        return builtin_jobs()

    @cached_property
    def jobs(self) -> JobRunner:
        """Background jobs: ``run(name)`` now, ``submit(name)`` in a thread, ``start()``."""
        from omnichannel.jobs import JobHistory, JobRunner

        return JobRunner(
            self.job_registry,
            JobHistory(self.opstore),
            self,
            schedules=self.settings.job_periods(),
        )

    @cached_property
    def consumers(self) -> ConsumerRunner:
        """Durable event consumers: the segment updater, the inbox's read receipts, the
        journey trigger (entries, wait_for matches, goals) and the recommendations' feed."""
        from omnichannel.channels.inbox import InboxReads
        from omnichannel.commerce.catalogue import ProductUpdates
        from omnichannel.consumers import Checkpoints, Consumer, ConsumerRunner
        from omnichannel.journeys.trigger import JourneyTrigger
        from omnichannel.privacy.consent_events import ConsentEvents
        from omnichannel.recommendations.live import RecommendationFeed
        from omnichannel.segments.realtime import SegmentUpdater

        consumers: list[Consumer] = [
            SegmentUpdater.of(self),
            ConsentEvents.of(self),
            InboxReads.of(self),
            JourneyTrigger.of(self),
            RecommendationFeed(self.recommendations.observe),
            ProductUpdates(self),
        ]
        return ConsumerRunner(self.warehouse, Checkpoints(self.opstore), consumers)

    def wake_consumers(self) -> None:
        """New events are stored: consumers that run look now (the event stream calls this)."""
        if "consumers" in self.__dict__:
            self.consumers.wake()

    @cached_property
    def templates(self) -> TemplatesCapability:
        """Message templates: save (checked, versioned), list, archive, preview."""
        from omnichannel.channels.templates import TemplatesCapability

        return TemplatesCapability(self)

    @cached_property
    def journeys(self) -> JourneysCapability:
        """Journeys: documents, lifecycle, enrolments, counts, dry runs; ``.runtime`` runs them."""
        from omnichannel.journeys.service import JourneysCapability

        return JourneysCapability(self)

    @cached_property
    def engagement(self) -> EngagementCapability:
        """Opens, clicks, unsubscribes and bounce reports of sent messages."""
        from omnichannel.channels.engagement import EngagementCapability

        return EngagementCapability(self)

    @cached_property
    def audiences(self) -> AudiencesCapability:
        """Ad audiences: a segment uploaded, hashed, to Meta or Google Ads."""
        from omnichannel.channels.audiences import AudiencesCapability

        return AudiencesCapability(self)

    @cached_property
    def send_times(self) -> SendTimesCapability:
        """Best send time per person and channel, and channel peaks (sendtime/, C9)."""
        from omnichannel.sendtime.service import SendTimesCapability

        return SendTimesCapability(self)

    @cached_property
    def attribution(self) -> AttributionCapability:
        """Multi-touch attribution of conversions to channels (analytics/attribution/, C11)."""
        from omnichannel.analytics.attribution.service import AttributionCapability

        return AttributionCapability(self)

    @cached_property
    def mmm(self) -> MMMCapability:
        """The marketing-mix model: fits, ROI, response curves, the fit in use (mmm/, C12)."""
        from omnichannel.mmm.service import MMMCapability

        return MMMCapability(self)

    @cached_property
    def funnels(self) -> FunnelsCapability:
        """Funnels: step conversion, time to convert, drop-off lists (analytics/funnels/, C10)."""
        from omnichannel.analytics.funnels.service import FunnelsCapability

        return FunnelsCapability(self)

    @cached_property
    def retention(self) -> RetentionCapability:
        """Retention and cohort tables: who comes back, period by period (C10)."""
        from omnichannel.analytics.retention import RetentionCapability

        return RetentionCapability(self)

    @cached_property
    def kpis(self) -> KpisCapability:
        """KPIs per channel, campaign, content and period, compared (analytics/kpis/, C10)."""
        from omnichannel.analytics.kpis.service import KpisCapability

        return KpisCapability(self)

    @cached_property
    def alerts(self) -> AlertsCapability:
        """Alert rules, their evaluation and the alerts they opened (analytics/alerts/)."""
        from omnichannel.analytics.alerts.service import AlertsCapability

        return AlertsCapability(self)

    @cached_property
    def experiments(self) -> ExperimentsCapability:
        """Experiments and journey holdouts: assignment, tests, always-valid reading (C13)."""
        from omnichannel.analytics.experiments.service import ExperimentsCapability

        return ExperimentsCapability(self)

    @cached_property
    def budget(self) -> BudgetCapability:
        """Budget allocation, scenarios, the bandit and the plan/outcome loop (budget/, C12)."""
        from omnichannel.budget.service import BudgetCapability

        return BudgetCapability(self)

    @cached_property
    def reports(self) -> ReportsCapability:
        """Saved reports and teams: run, version, share, email on a schedule (C15, C16)."""
        from omnichannel.reports.service import ReportsCapability

        return ReportsCapability(self)

    @cached_property
    def models(self) -> ModelsCapability:
        """Model versions with their metrics, promotion, retraining (models/, C14)."""
        from omnichannel.models.service import ModelsCapability

        return ModelsCapability(self)

    @cached_property
    def recommendations(self) -> RecommendationsCapability:
        """Products per person with a reason each, folded in live (recommendations/, C8)."""
        from omnichannel.recommendations.service import RecommendationsCapability

        return RecommendationsCapability(self)

    @cached_property
    def surveys(self) -> SurveysCapability:
        """NPS, CSAT, CES and custom surveys: send, answer, results, free text (C19)."""
        from omnichannel.surveys.service import SurveysCapability

        return SurveysCapability(self)

    @cached_property
    def propensity(self) -> PropensityCapability:
        """Purchase and churn propensity: scores as profile traits, explained (propensity/)."""
        from omnichannel.propensity.service import PropensityCapability

        return PropensityCapability(self)

    @cached_property
    def lookup(self) -> ProfileLookup:
        """The in-memory identifier index of the Profile API (rebuilt when identity changes)."""
        from omnichannel.profiles.lookup import ProfileLookup

        return ProfileLookup(self.config, rebuild_with=lambda: self.warehouse.reader())

    def open_lookup(self) -> ProfileLookup | None:
        """The Profile API's index if this platform has built one, else None: a CLI run
        that resolves identities has no index to keep current, and should not build one."""
        lookup: ProfileLookup | None = vars(self).get("lookup")  # where cached_property keeps it
        return lookup

    @cached_property
    def clusters(self) -> ClustersCapability:
        """Customer clusters, their personas, each person's cluster, clusters as segments."""
        from omnichannel.clustering.service import ClustersCapability

        return ClustersCapability(self)

    @cached_property
    def messages(self) -> MessagesCapability:
        """The one send path for every message, and what became of each (channels/service.py)."""
        from omnichannel.channels.service import MessagesCapability

        return MessagesCapability(self)

    @cached_property
    def channels(self) -> ChannelsCapability:
        """The channels' workers (start, stop) and their health (queue depth, breaker)."""
        from omnichannel.channels.service import ChannelsCapability

        return ChannelsCapability(self)

    @cached_property
    def users(self) -> UsersCapability:
        """Users, roles, passwords and API tokens (access/users.py, C16/C18)."""
        from omnichannel.access.users import UsersCapability

        return UsersCapability(self)

    @cached_property
    def collaboration(self) -> CollaborationCapability:
        """Comments with @mentions on segments, journeys and reports; notifications (C16)."""
        from omnichannel.collaboration.service import CollaborationCapability

        return CollaborationCapability(self)

    @cached_property
    def access(self) -> AccessCapability:
        """Roles and permissions, the audit log, role checks of library calls (access/)."""
        from omnichannel.access.capability import AccessCapability

        return AccessCapability(self)

    @cached_property
    def commerce(self) -> CommerceCapability:
        """Catalogue and listings per channel, stock per location, order routing (C17)."""
        from omnichannel.commerce.service import CommerceCapability

        return CommerceCapability(self)

    @cached_property
    def consent(self) -> ConsentCapability:
        """The consent ledger: per purpose and channel, with history (privacy/, C18)."""
        from omnichannel.privacy.consent_service import ConsentCapability

        return ConsentCapability(self)

    @cached_property
    def privacy(self) -> PrivacyCapability:
        """Data-subject requests: export, erasure, the suppression list (privacy/, C18)."""
        from omnichannel.privacy.service import PrivacyCapability

        return PrivacyCapability(self)

    @cached_property
    def operations(self) -> OperationsCapability:
        """Jobs and their runs, backups taken, retention in force (operations.py, C18)."""
        from omnichannel.operations import OperationsCapability

        return OperationsCapability(self)

    @cached_property
    def partners(self) -> PartnersCapability:
        """Audiences shared with partners as salted hashes; overlap, attribution (C18)."""
        from omnichannel.privacy.partners import PartnersCapability

        return PartnersCapability(self)

    def release_warehouse(self) -> None:
        """Close the warehouse now; the next use opens it again (privacy compaction)."""
        if "lookup" in self.__dict__:
            self.lookup.close()
            del self.__dict__["lookup"]
        with self._lock:
            if self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None

    def status(self) -> dict[str, Any]:
        """Version, home, warehouse (engine, schema, rows per table), operational store."""
        from omnichannel.installation import describe

        with self.warehouse.reader() as wh:
            return describe(self.settings, wh)

    def close(self) -> None:
        """Stop what runs and close both stores."""
        if "journeys" in self.__dict__ and "runtime" in self.journeys.__dict__:
            self.journeys.runtime.stop()  # it sends and records through the stores below
        if "channels" in self.__dict__:
            self.channels.stop()  # its workers settle their outcomes in the opstore
        if "messages" in self.__dict__:
            self.messages.close()  # the delivery log's last rows, before the warehouse closes
        if "jobs" in self.__dict__:
            self.jobs.stop()
        if "consumers" in self.__dict__:
            self.consumers.stop()
        if "lookup" in self.__dict__:
            self.lookup.close()  # its watcher reads the warehouse
        with self._lock:
            if self._opstore is not None:
                self._opstore.close()
                self._opstore = None
            if self._warehouse is not None:
                self._warehouse.close()
                self._warehouse = None


class IdentityCapability:
    """Identity resolution under the installation's rules."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def resolve(
        self,
        *,
        full: bool = False,
        config: InstallationConfig | None = None,
        progress: Progress | None = None,
    ) -> ResolveReport:
        """Resolve identities (incremental unless ``full``) with the home's rules, or
        ``config``'s (a rules file given for this run)."""
        from omnichannel.identity import resolve

        platform = self._platform
        rules = (config or platform.config).rules
        with platform.warehouse.reader() as wh:
            report = resolve(wh, rules=rules, full=full, progress=progress)
            lookup = platform.open_lookup()
            if lookup is not None:  # requests answer from it: index the result now
                lookup.refresh(wh)
            return report


class ProfilesCapability:
    """Profiles: build them, find one by any identifier."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def build(
        self,
        *,
        force: bool = False,
        as_of: datetime | None = None,
        config: InstallationConfig | None = None,
        progress: Progress | None = None,
    ) -> BuildReport:
        """Build profiles (skipped when nothing changed, unless ``force``), swapped in whole,
        with the home's tags, rules, consent and time zone, or ``config``'s."""
        from omnichannel.profiles.build import build_profiles

        platform = self._platform
        options = (config or platform.config).build_options()
        with platform.warehouse.reader() as wh:
            # Derived tables are built aside and swapped in one transaction: a reader's
            # connection is enough, and the loader's appends go on meanwhile.
            return build_profiles(wh, **options, as_of=as_of, force=force, progress=progress)

    def card(self, identifier: str, *, recent: int = 10) -> dict[str, Any]:
        """The 360° card (JSON-ready) of the profile holding ``type:value``."""
        from omnichannel.profiles.card import card_data

        platform = self._platform
        with platform.warehouse.reader() as wh:
            return card_data(wh, platform.lookup, identifier, recent=recent)
