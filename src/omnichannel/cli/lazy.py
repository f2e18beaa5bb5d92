"""Sub-commands imported only when they run, so ``omni --version`` does not load the warehouse.

Every command module pulls in heavy libraries (Ibis, DuckDB, SQLAlchemy, pandas...).
Importing them all to dispatch one command cost seconds per call; ``LazyGroup`` imports
the one module a command lives in when that command is resolved. ``omni --help`` lists
commands from the one-line summaries registered here (a test checks they match the
commands' own docstrings), so it does not import them either.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a sub-command lives: ``module:attribute``, a Typer app or a command function."""

    name: str
    target: str
    summary: str

    def load(self) -> Command:
        module_name, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module_name), attribute)
        command: Command
        if isinstance(obj, typer.Typer):
            # Always a group, as add_typer makes it: `omni profile show`, not `omni profile`.
            command = typer.main.get_group(obj)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(obj)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class LazyCommands(MutableMapping[str, Command]):
    """A group's commands by name; a lazy one is imported when its command is looked up.

    Names (``keys()``) cost nothing, so "did you mean" suggestions and listings of names
    import no module; anyone who asks for a command object gets the real one.
    """

    def __init__(self, lazy: Mapping[str, LazyCommand], eager: Mapping[str, Command]) -> None:
        self._lazy = dict(lazy)
        self._commands: dict[str, Command] = dict(eager)
        self._order = [*self._lazy, *(n for n in eager if n not in self._lazy)]

    def placeholder(self, name: str) -> Command | None:
        """The loaded command, else a stand-in with only the name and summary (for help)."""
        if name in self._commands:
            return self._commands[name]
        entry = self._lazy.get(name)
        return None if entry is None else TyperCommand(name, help=entry.summary)

    def __getitem__(self, name: str) -> Command:
        if name not in self._commands:
            if name not in self._lazy:
                raise KeyError(name)
            self._commands[name] = self._lazy[name].load()
        return self._commands[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._order:
            self._order.append(name)
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        self._order.remove(name)
        self._commands.pop(name, None)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)


class LazyGroup(TyperGroup):
    """A Typer group whose registered ``LazyCommand`` entries are imported on first use."""

    lazy_commands: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.lazy_commands, self.commands)
        self._listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # names only: TyperGroup's version would load every one

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if self._listing and isinstance(self.commands, LazyCommands):
            # The help page needs only the name and summary: do not import the module.
            return self.commands.placeholder(cmd_name)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(commands: list[LazyCommand]) -> type[LazyGroup]:
    """A ``LazyGroup`` class bound to these commands (Typer takes a class, not an instance)."""
    return type("OmniGroup", (LazyGroup,), {"lazy_commands": {c.name: c for c in commands}})
