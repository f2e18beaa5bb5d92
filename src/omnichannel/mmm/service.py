"""``platform.mmm``: the library face of the marketing-mix model that the CLI and API call.

A fit is stored as a version of the ``mmm`` model (``omni models list mmm``): its
artefact is the whole ``MMMFit``, its primary metric the held-out MAPE (lower is
better). The version in use is the fit budget allocation plans with (``latest``).

Example::

    with Platform.open("omni-home") as platform:
        answer = platform.mmm.fit()                           # the warehouse, daily orders
        answer["channels"][0]["roi"]["value"], answer["version"]
        platform.mmm.fit("sales.csv", date_col="date", target_col="sales",
                         spend_cols=["search", "tv"])
        model = platform.mmm.response_model()                 # the version in use
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from omnichannel.errors import ValidationError
from omnichannel.mmm.curves import ResponseModel
from omnichannel.mmm.data import MMMData, from_frame, from_warehouse
from omnichannel.mmm.fit import DEFAULT_BOOTSTRAP, METHODS, fit
from omnichannel.mmm.result import MMMFit

if TYPE_CHECKING:
    from omnichannel.models.registry import ModelKind, TrainedModel
    from omnichannel.platform import Platform

MODEL = "mmm"
PRIMARY_METRIC = "holdout_mape"


class MMMCapability:
    """Fit on a table or the warehouse; keep fits as model versions; read the one in use."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def data(self, *, target: str = "orders", period: str = "day") -> MMMData:
        """The warehouse's ad spend by day and channel with orders or revenue by day."""
        with self._platform.warehouse.reader() as wh:
            return from_warehouse(wh, target=target, period=period)

    def fit(
        self,
        data: str | Path | pd.DataFrame | MMMData | None = None,
        *,
        date_col: str | None = None,
        target_col: str | None = None,
        spend_cols: Sequence[str] = (),
        control_cols: Sequence[str] = (),
        target: str = "orders",
        period: str = "day",
        method: str = "fast",
        holdout_days: int | None = None,
        bootstrap: int = DEFAULT_BOOTSTRAP,
        seed: int = 0,
        store: bool = True,
        detail: bool = False,
        by: str = "library",
    ) -> dict[str, Any]:
        """Fit a table (CSV file, CSV text, frame) or, with ``data=None``, the warehouse;
        with ``store`` the fit becomes a version of ``mmm`` (in use unless it scores worse)."""
        prepared = self.prepare(
            data,
            date_col=date_col,
            target_col=target_col,
            spend_cols=spend_cols,
            control_cols=control_cols,
            target=target,
            period=period,
        )
        result = fit(
            prepared, method=method, holdout_days=holdout_days, bootstrap=bootstrap, seed=seed
        )
        answer = result.report(detail=detail)
        if store:
            # A fit with no held-out error has no score to win a promotion with.
            scored = result.holdout.get("mape") is not None
            version = self._platform.models.train(
                MODEL, method, options={"fitted": result}, by=by, promote=scored
            )
            answer["version"] = version["version"]
            answer["status"] = version["status"]
            answer["trained_by"] = by
            if "promotion_refused" in version:
                answer["promotion_refused"] = version["promotion_refused"]
        return answer

    def prepare(
        self,
        data: str | Path | pd.DataFrame | MMMData | None,
        *,
        date_col: str | None = None,
        target_col: str | None = None,
        spend_cols: Sequence[str] = (),
        control_cols: Sequence[str] = (),
        target: str = "orders",
        period: str = "day",
    ) -> MMMData:
        if isinstance(data, MMMData):
            return data
        if data is None:
            return self.data(target=target, period=period)
        return prepare_table(
            data,
            date_col=date_col,
            target_col=target_col,
            spend_cols=spend_cols,
            control_cols=control_cols,
            period=period,
        )

    def latest(self) -> tuple[int, MMMFit] | None:
        """``(version, fit)`` of the fit in use, or None before the first fit."""
        loaded = self._platform.models.load(MODEL)
        if loaded is None:
            return None
        version, artefact = loaded
        return version, artefact

    def latest_report(self, *, detail: bool = True) -> dict[str, Any]:
        """The fit in use as ``fit`` answered it (with curves and time series)."""
        from omnichannel.errors import NotFoundError

        found = self.latest()
        if found is None:
            raise NotFoundError(
                "no marketing-mix fit yet: `omni mmm fit` fits the warehouse, "
                "`omni mmm fit --data FILE ...` a CSV"
            )
        version, result = found
        answer = result.report(detail=detail)
        answer["version"] = version
        answer["status"] = "active"
        return answer

    def response_model(self) -> ResponseModel | None:
        """The curves of the fit in use, for budget allocation; None before the first fit."""
        found = self.latest()
        return None if found is None else found[1].response_model()


def prepare_table(
    data: str | Path | pd.DataFrame,
    *,
    date_col: str | None,
    target_col: str | None,
    spend_cols: Sequence[str],
    control_cols: Sequence[str] = (),
    period: str = "day",
) -> MMMData:
    """A table's ``MMMData``, naming the option a missing column name belongs to."""
    if not date_col:
        raise ValidationError("date_col", date_col, "the name of the data's date column")
    if not target_col:
        raise ValidationError("target_col", target_col, "the name of the column to explain")
    return from_frame(
        data,
        date_col=date_col,
        target_col=target_col,
        spend_cols=list(spend_cols),
        control_cols=list(control_cols),
        period=period,
    )


def fit_table(
    data: str | Path | pd.DataFrame,
    *,
    date_col: str | None,
    target_col: str | None,
    spend_cols: Sequence[str],
    control_cols: Sequence[str] = (),
    period: str = "day",
    detail: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Fit a table without an installation (nothing stored): the report ``fit`` answers."""
    prepared = prepare_table(
        data,
        date_col=date_col,
        target_col=target_col,
        spend_cols=spend_cols,
        control_cols=control_cols,
        period=period,
    )
    return fit(prepared, **options).report(detail=detail)


def _train(platform: Platform, algorithm: str | None, options: Mapping[str, Any]) -> TrainedModel:
    """The lifecycle's train: wrap a fit made already, or fit the warehouse again."""
    from omnichannel.models.registry import TrainedModel

    result = options.get("fitted")
    if not isinstance(result, MMMFit):
        method = algorithm or "fast"
        data = platform.mmm.prepare(None, target=str(options.get("target", "orders")))
        result = fit(
            data, method=method, bootstrap=int(options.get("bootstrap", DEFAULT_BOOTSTRAP))
        )
    holdout = result.holdout
    metrics: dict[str, Any] = {
        PRIMARY_METRIC: holdout.get("mape"),
        "holdout_rmse": holdout.get("rmse"),
        "holdout_periods": holdout.get("periods"),
        "in_sample_r2": result.fit_quality()["in_sample"].get("r2"),
        "cutoff": holdout.get("first"),
    }
    return TrainedModel(
        algorithm=result.method,
        artefact=result,
        params={**result.data, **result.options},
        metrics=metrics,
        split={"holdout_periods": holdout.get("periods"), "first": holdout.get("first")},
    )


def _check(artefact: Any) -> None:
    if not isinstance(artefact, MMMFit):
        raise ValueError("not a marketing-mix fit")


def model_kind() -> ModelKind:
    from omnichannel.models.registry import ModelKind

    return ModelKind(
        name=MODEL,
        description="Marketing-mix model: adstock and saturation per channel (C12)",
        algorithms=METHODS,
        train=_train,
        primary_metric=PRIMARY_METRIC,
        higher_is_better=False,
        check_artefact=_check,
    )
