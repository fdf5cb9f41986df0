"""What a reference function returned (a torch tensor, a numpy array or scalar, a list) as plain
Python or numpy values, without importing torch here."""

from __future__ import annotations

from typing import Any

import numpy as np


def untensor(value: Any) -> Any:
    """A torch tensor as a numpy array (anything else unchanged)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def array_of(value: Any, dtype: Any = np.float64) -> np.ndarray:
    """A reference value (tensor, array, nested list) as a numpy array."""
    return np.asarray(untensor(value), dtype=dtype)


def scalar_of(value: Any) -> Any:
    """A reference function's single value (0-d tensor, 1-element array, numpy scalar) as Python."""
    value = untensor(value)
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected a single value, got an array of shape {value.shape}")
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    return value
