"""Hypothesis profiles for the fuzz suite, and the recorded Azure samples its mutation strategies start from.

``ci`` (the default) runs 300 examples per property, derandomized so that a CI failure reproduces on any
machine; ``long`` runs 5,000 with a fresh seed each run and keeps failures in the example database::

    HYPOTHESIS_PROFILE=long pytest tests/fuzz -p no:cacheprovider
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.recorded_samples import RecordedSamples, load_recorded_samples

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def recorded() -> RecordedSamples:
    """Chunks, events and bodies of the real Azure recordings (skips when the recordings folder is absent)."""
    return load_recorded_samples()
