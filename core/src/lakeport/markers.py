"""The pluggy markers: ``hookimpl`` for plugins, ``hookspec`` for :mod:`lakeport.hookspecs`."""

from __future__ import annotations

import pluggy

#: the project name, the hook prefix and the entry-point group are the same word.
PROJECT_NAME = "lakeport"

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
