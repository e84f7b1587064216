"""Testing kit: fixtures (``spark``, ``tmp_lake``, ``lakeport_project``), the handle contract,
and ``make_distribution`` to install a plugin for real in a test."""

from lakeport.testing.contract import HandleContract
from lakeport.testing.distributions import make_distribution

__all__ = ["HandleContract", "make_distribution"]
