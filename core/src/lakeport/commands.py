"""CLI command types that plugins see (``lakeport_register_commands``), apart from the CLI itself.

Their own module so that :mod:`lakeport.hookspecs` can name them without importing
:mod:`lakeport.cli`, which imports the plugin machinery back.
"""

from __future__ import annotations

import argparse
from typing import Callable, NamedTuple

from lakeport.errors import LakeportError

__all__ = ["Command", "CommandRegistry"]


class Command(NamedTuple):
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class CommandRegistry:
    """Handed to ``lakeport_register_commands``; plugins call ``add_command``."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def add_command(
        self,
        name: str,
        *,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None],
        run: Callable[[argparse.Namespace], int],
    ) -> None:
        if name in self.commands:
            raise LakeportError(f"CLI command {name!r} is registered twice")
        self.commands[name] = Command(name, help, configure, run)
