"""Shared fixtures for the wire tests; makes the repo importable without an install."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

try:
    import gameserver  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
