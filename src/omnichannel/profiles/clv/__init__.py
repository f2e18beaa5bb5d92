"""Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, holdout check, CLV.

Data flow: ``transactions`` (read a CSV/Parquet file) -> ``summary`` (frequency, recency,
T, monetary per customer) -> ``bgnbd`` and ``gamma_gamma`` (maximum likelihood) ->
``holdout`` (predicted against actual) -> ``fit`` (one call, per-customer CLV table).
``simulate`` draws a customer base from given parameters, to check a fit against the truth.
"""

from __future__ import annotations

from omnichannel.profiles.clv.bgnbd import BgNbdParams
from omnichannel.profiles.clv.fit import ClvFit, customer_values, fit_clv, fit_summary, write_table
from omnichannel.profiles.clv.gamma_gamma import GammaGammaParams
from omnichannel.profiles.clv.holdout import HoldoutCheck, check_holdout
from omnichannel.profiles.clv.mle import FitError
from omnichannel.profiles.clv.simulate import simulate
from omnichannel.profiles.clv.summary import Summary, summarise
from omnichannel.profiles.clv.transactions import TransactionColumns, read_transactions

__all__ = [
    "BgNbdParams",
    "ClvFit",
    "FitError",
    "GammaGammaParams",
    "HoldoutCheck",
    "Summary",
    "TransactionColumns",
    "check_holdout",
    "customer_values",
    "fit_clv",
    "fit_summary",
    "read_transactions",
    "simulate",
    "summarise",
    "write_table",
]
