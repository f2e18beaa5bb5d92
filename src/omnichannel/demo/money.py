"""Exact money: integer cents in numpy, ``decimal(18, 2)`` in Arrow, no float rounding."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

MONEY_TYPE = pa.decimal128(18, 2)


def decimal_array(cents: np.ndarray) -> pa.Array:
    """Integer cents as a decimal(18, 2) array, built from the 128-bit buffer directly.

    Going through Python ``Decimal`` objects would cost a second per million values; the
    decimal128 layout is just the unscaled integer in two's complement, little-endian.
    """
    low = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(low), 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = low >> 63
    return pa.Array.from_buffers(MONEY_TYPE, len(low), [None, pa.py_buffer(words.tobytes())])
