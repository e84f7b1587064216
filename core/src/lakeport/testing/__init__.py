"""Testing kit: fixtures (``spark``, ``tmp_lake``, ``lakeport_project``) and the handle contract."""

from lakeport.testing.contract import HandleContract

__all__ = ["HandleContract"]
