"""``platform.recommendations``: one person's recommendations, evaluation, the live feed.

The version in use comes from the model lifecycle (``platform.models``, model
``recommendations``); this module is also where that model registers how it is trained
(``model_kind``). Every face calls this: ``GET /v1/profiles/{type}:{value}/recommendations``,
``omni recs show``, the ``recommendations`` variable of message templates.

Example::

    with Platform.open("omni-home") as platform:
        platform.models.train("recommendations", "als")
        answer = platform.recommendations.for_identifier("email:ann@example.com", slot="email")
        for item in answer["items"]:
            print(item["name"], "-", item["reason"])
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from omnichannel.errors import ConflictError, NotFoundError, ValidationError
from omnichannel.recommendations.config import (
    ALGORITHMS,
    MAX_K,
    RecommendationsConfig,
    load_config,
)
from omnichannel.recommendations.content import CONTENT_TYPES
from omnichannel.recommendations.live import WANTED_EVENTS, LiveInteractions, entries_of
from omnichannel.recommendations.model import (
    ARTEFACT_FORMAT,
    Recommender,
    single_threaded_blas,
)
from omnichannel.recommendations.recommend import PersonState, recommend

if TYPE_CHECKING:
    from omnichannel.models.registry import ModelKind, TrainedModel
    from omnichannel.platform import Platform

log = logging.getLogger(__name__)
MODEL = "recommendations"
# How often a request checks which version is in use (a promotion in this process is
# seen at once; one by another process within this many seconds).
CHECK_SECONDS = 5.0
# Message channels to slots (``recommendations.yaml``'s slots).
CHANNEL_SLOTS = {"email": "email", "push": "push", "inbox": "in_app", "sms": "push"}


class RecommendationsCapability:
    """Recommendations of the version in use, with what arrived since it was trained."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._lock = threading.Lock()
        self._model: tuple[int, Recommender] | None = None
        self._checked = 0.0
        self.live = LiveInteractions()

    @cached_property
    def config(self) -> RecommendationsConfig:
        """``<home>/recommendations.yaml`` (defaults without one), read once."""
        return load_config(self._platform.settings.home)

    # --- the version in use ----------------------------------------------------------

    def model(self) -> tuple[int, Recommender]:
        """``(version, recommender)`` in use; NotFoundError when none is trained."""
        now = time.monotonic()
        current = self._model
        if current is not None and now - self._checked < CHECK_SECONDS:
            return current
        loaded = self._platform.models.load(MODEL)
        if loaded is None:
            raise NotFoundError(
                "no recommendation model is in use: `omni models train recommendations` "
                "trains one (it is put in use when it is the first)"
            )
        version, recommender = loaded
        check_artefact(recommender, version)
        single_threaded_blas()
        with self._lock:
            if self._model is None or self._model[0] != version:
                self._model = (version, recommender)
                self._replay(recommender)
            self._checked = now
            return self._model

    def forget(self) -> None:
        """Drop the version held (a promotion): the next request loads the one in use."""
        with self._lock:
            self._model = None
            self._checked = 0.0

    def _replay(self, model: Recommender) -> None:
        """Read back the events stored after the model's data (the live module's docstring)."""
        self.live.reset()
        with self._platform.warehouse.reader() as wh:
            e = wh.table("events")
            newer = e.filter(e.load_seq > model.trained_load_seq, e.event.isin(WANTED_EVENTS))
            columns = ["message_id", "event", "source", "user_id", "anonymous_id"]
            batch = newer.select(*columns, "properties", "load_seq").to_pyarrow()
        if batch.num_rows:
            self.observe(batch)

    # --- the live feed ---------------------------------------------------------------

    def observe(self, batch: pa.Table) -> int:
        """Keep the product and content events of ``batch`` (the consumer calls this);
        returns how many people it changed."""
        if batch.num_rows == 0:
            return 0
        platform = self._platform
        with platform.warehouse.reader() as wh:
            index = platform.lookup.index(wh)
        return len(self.live.add(entries_of(batch, index, platform.config.rules)))

    def state(self, model: Recommender, profile_id: str) -> PersonState:
        """The person's trained row plus their events since (folded in when there are any)."""
        row = model.row(profile_id)
        i = model.people.get(profile_id)
        purchased = set(model.purchased[i].indices.tolist()) if i is not None else set()
        viewed = set(model.viewed[i].indices.tolist()) if i is not None else set()
        live = self.live.of(profile_id, model.trained_load_seq)
        if not live:
            return PersonState(row, purchased, viewed, None, changed=False)
        weights = self.config.weights
        index = model.item_index
        cols: list[int] = []
        values: list[float] = []
        types = np.zeros(len(CONTENT_TYPES))
        for entry in live:
            if entry.kind == "content":
                types[CONTENT_TYPES.index(entry.content_type or "")] += 1
                continue
            j = index.get(entry.product_id or "")
            if j is None:
                continue
            cols.append(j)
            values.append(float(weights.get(entry.kind, 1.0)))
            (purchased if entry.kind == "purchase" else viewed).add(j)
        if cols:
            added = sp.csr_matrix(
                (np.asarray(values, np.float32), ([0] * len(cols), cols)), shape=row.shape
            )
            row = (row + added).tocsr()
            row.sum_duplicates()
        return PersonState(row, purchased, viewed, types if types.any() else None, changed=True)

    # --- answers ---------------------------------------------------------------------

    def for_profile(
        self, profile_id: str, *, slot: str | None = None, k: int | None = None
    ) -> dict[str, Any]:
        """The slot's recommendations for a profile id, with a reason per item."""
        if k is not None and not 1 <= k <= MAX_K:
            raise ValidationError("k", k, f"a whole number 1-{MAX_K}")
        chosen = self.config.slot(slot)
        version, model = self.model()
        answer = recommend(
            model, profile_id, self.state(model, profile_id), chosen, self.config, k=k
        )
        return {"profile_id": profile_id, "model": {"name": MODEL, "version": version}, **answer}

    def for_identifier(
        self, identifier: str, *, slot: str | None = None, k: int | None = None
    ) -> dict[str, Any]:
        """``for_profile`` of the profile holding ``type:value`` (any identifier)."""
        platform = self._platform
        with platform.warehouse.reader() as wh:
            ref = platform.lookup.find(wh, identifier)
        answer = self.for_profile(ref.profile_id, slot=slot, k=k)
        return {"identifier": identifier, **answer}

    def for_messages(self, profile_ids: Sequence[str], channel: str) -> dict[str, list[Any]]:
        """Per profile, the items a message on ``channel`` shows (``recommendations`` in a
        template); empty lists when no model is in use, so templates still render."""
        slot = CHANNEL_SLOTS.get(channel, "email")
        try:
            self.model()
        except NotFoundError:
            return {pid: [] for pid in profile_ids}
        return {pid: self.for_profile(pid, slot=slot)["items"] for pid in profile_ids}

    def rules(self, *, top: int = 20, product: str | None = None) -> dict[str, Any]:
        """The association rules of the model in use, strongest lift first (``product``:
        only rules with it on either side), each side with the products' names."""
        if not 1 <= top <= 1000:
            raise ValidationError("top", top, "a whole number 1-1000")
        version, model = self.model()
        names = dict(zip(model.items, model.item_names, strict=True))
        if product is not None and product not in names:
            raise ValidationError("product", product, "a product id of the catalogue")
        chosen = [
            r
            for r in model.rules
            if product is None or product in r.antecedents or product in r.consequents
        ][:top]
        return {
            "model": {"name": MODEL, "version": version},
            "summary": model.rules_summary,
            "rules": [
                {
                    **r.as_dict(),
                    "antecedent_names": [names.get(p, p) for p in r.antecedents],
                    "consequent_names": [names.get(p, p) for p in r.consequents],
                }
                for r in chosen
            ],
        }

    def lazy_items(self, profile_id: str | None, channel: str) -> LazyItems:
        """``recommendations`` of a message's template: computed only if the template
        reads it, so messages that show none cost nothing."""
        return LazyItems(self, profile_id, channel)

    # --- training and evaluation -----------------------------------------------------

    def train_model(
        self, algorithm: str | None = None, *, holdout_days: int | None = None
    ) -> TrainedModel:
        """Score ``algorithm`` on the time split, then fit it on all the data."""
        from omnichannel.models.registry import TrainedModel
        from omnichannel.recommendations.evaluate import score_model, time_split
        from omnichannel.recommendations.train import (
            check_algorithm,
            fit_recommender,
            read_training_data,
        )

        config = self.config
        chosen = check_algorithm(algorithm or config.algorithm)
        days = holdout_days or config.holdout_days
        platform = self._platform
        with platform.warehouse.reader() as wh:
            seq = _latest_load_seq(wh)
            data = read_training_data(wh, platform.config.rules)
        split = time_split(data, days)
        metrics: dict[str, Any] = score_model(
            fit_recommender(split.train, config, chosen), split, config
        )
        metrics["cutoff"] = split.cutoff.isoformat()
        model = fit_recommender(data, config, chosen)
        model.trained_load_seq = seq
        return TrainedModel(
            algorithm=chosen,
            artefact=model,
            params={**model.params, "holdout_days": days},
            metrics=metrics,
            split={
                "cutoff": split.cutoff.isoformat(),
                "holdout_days": days,
                "people": len(split.relevant),
                "interactions": data.interactions.num_rows,
            },
        )

    def evaluate(
        self, algorithms: Sequence[str] | None = None, *, holdout_days: int | None = None
    ) -> dict[str, Any]:
        """Every algorithm (popularity first) on one time split of the warehouse's data."""
        from omnichannel.recommendations.evaluate import evaluate
        from omnichannel.recommendations.train import check_algorithm, read_training_data

        chosen = [check_algorithm(a) for a in (algorithms or ALGORITHMS_BASELINE_FIRST)]
        platform = self._platform
        with platform.warehouse.reader() as wh:
            data = read_training_data(wh, platform.config.rules)
        return evaluate(data, self.config, chosen, holdout_days=holdout_days)


class LazyItems(Sequence[dict[str, Any]]):
    """A person's items for a message, fetched on first use; empty when none can be had
    (no model in use, no profile), so a template that loops over them still renders."""

    def __init__(
        self, service: RecommendationsCapability, profile_id: str | None, channel: str
    ) -> None:
        self._service = service
        self._profile_id = profile_id
        self._channel = channel
        self._items: list[dict[str, Any]] | None = None

    def _get(self) -> list[dict[str, Any]]:
        if self._items is None:
            self._items = []
            if self._profile_id:
                try:
                    found = self._service.for_messages([self._profile_id], self._channel)
                    self._items = found[self._profile_id]
                except Exception:  # a message is not refused for want of recommendations
                    log.exception("recommendations for a message failed; none shown")
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


ALGORITHMS_BASELINE_FIRST = ("popularity", *(a for a in ALGORITHMS if a != "popularity"))


def _latest_load_seq(wh: Any) -> int:
    events = wh.table("events")
    value = events.load_seq.max().to_pyarrow().as_py()
    return int(value or 0)


def check_artefact(artefact: Any, version: int | None = None) -> None:
    """Refuse an artefact stored in another format (ConflictError naming what to do)."""
    stored = artefact.__dict__.get("format", 1)  # not the class default
    if stored != ARTEFACT_FORMAT:
        which = f"{MODEL} v{version}" if version is not None else MODEL
        raise ConflictError(
            f"{which} was stored in artefact format {stored} and this version of "
            f"Omnichannel reads format {ARTEFACT_FORMAT}: train a new version "
            f"(omni models train {MODEL} --promote) to use recommendations again"
        )


def _train(platform: Platform, algorithm: str | None, options: Mapping[str, Any]) -> TrainedModel:
    days = options.get("holdout_days")
    return platform.recommendations.train_model(
        algorithm, holdout_days=int(days) if days not in (None, "") else None
    )


def _promoted(platform: Platform) -> None:
    platform.recommendations.forget()


def model_kind() -> ModelKind:
    """How the lifecycle trains and compares the recommendation model."""
    from omnichannel.models.registry import ModelKind
    from omnichannel.recommendations.evaluate import PRIMARY_METRIC

    return ModelKind(
        name=MODEL,
        description="Products per person: ALS, BPR, item-kNN, content or popularity.",
        algorithms=ALGORITHMS,
        train=_train,
        primary_metric=PRIMARY_METRIC,
        on_promote=_promoted,
        check_artefact=check_artefact,
    )
