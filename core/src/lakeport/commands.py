"""CLI command types that plugins see (``lakeport_register_commands``), apart from the CLI itself.

Their own module so that :mod:`lakeport.hookspecs` can name them without importing
:mod:`lakeport.cli`, which imports the plugin machinery back.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, NamedTuple, Union

from lakeport.errors import LakeportError

__all__ = ["Command", "CommandRegistry"]


class Command(NamedTuple):
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


#: A function, or its ``"module:function"`` reference, imported only when the command is used.
CommandFunction = Union[Callable[..., Any], str]


def _on_use(function: CommandFunction, *, what: str) -> Callable[..., Any]:
    """``function`` itself, or a stand-in that imports the referenced one on its first call."""
    if callable(function):
        return function
    from lakeport.kinds import resolve_reference

    def call(argument: Any) -> Any:
        return resolve_reference(function, what=what)(argument)

    return call


class CommandRegistry:
    """Handed to ``lakeport_register_commands``; plugins call ``add_command``.

    ``configure`` and ``run`` may be ``"module:function"`` references, so that a plugin's
    command module (and what it imports) loads only when its command runs.
    """

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}

    def add_command(
        self,
        name: str,
        *,
        help: str,
        configure: Callable[[argparse.ArgumentParser], None] | str,
        run: Callable[[argparse.Namespace], int] | str,
    ) -> None:
        if name in self.commands:
            raise LakeportError(f"CLI command {name!r} is registered twice")
        self.commands[name] = Command(
            name, help, _on_use(configure, what=f"command {name!r} configure"), _on_use(run, what=f"command {name!r} run")
        )
