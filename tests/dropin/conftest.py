"""Fixtures of the drop-in suites."""

from tests.support.llamaindex_events import recorder  # noqa: F401  (a fixture for this folder's tests)
