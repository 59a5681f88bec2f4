"""``salv-train`` options derived from the config dataclasses, so that each option is written once.

A field's name, type, default and metadata make its option (as TRL's ``HfArgumentParser`` does):
``--field-name`` (a ``bool`` that defaults to True: ``--field-name/--no-field-name``), the
``short`` name and the ``help`` text of its metadata (:func:`salv_trainer.config.setting`); a
``flag`` in the metadata replaces the long name. A ``bool`` field whose only flag is ``--no-x``
is a switch that turns the field off. A command lists its options in order with :class:`Flags`
(fields of one or more configs, and options of its own) and receives the values by field name::

    FLAGS = Flags().fields(PairsConfig, "mode", "seed").option("out", Path, OUT)

    @FLAGS.command(app, "pairs")
    def pairs_command(*, out: Path, **settings) -> None:
        cfg = PairsConfig(**FLAGS.of(PairsConfig, settings))
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, Optional

import typer

__all__ = ["Flags", "field_option"]

_FIELD = object()  # "the field's own default"


def _hint(cls: type, name: str) -> Any:
    """The field's type, ``X | None`` as ``Optional[X]`` (what typer reads)."""
    tp = typing.get_type_hints(cls)[name]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return Optional[args[0]]
    return tp


def _decls(name: str, meta: typing.Mapping[str, Any], tp: Any, default: Any) -> list[str]:
    long = meta.get("flag") or "--" + name.replace("_", "-")
    if tp is bool and default is True and "/" not in long and not long.startswith("--no-"):
        long = f"{long}/--no-{long[2:]}"
    return [long] + ([meta["short"]] if meta.get("short") else [])


def _plain(text: str) -> str:
    """Help text shown as written: ``[paper: ...]`` is no rich markup tag (a ``\\[`` some texts
    carry for that is taken as a plain ``[``)."""
    from rich.markup import escape

    return escape(text.replace("\\[", "["))


def field_option(cls: type, name: str, *decls: str, default: Any = _FIELD, annotation: Any = None,
                 help_suffix: str = "", **option: Any) -> tuple[inspect.Parameter, bool]:
    """The typer option of field ``name`` of dataclass ``cls`` as a keyword parameter, and whether
    it is a ``--no-x`` switch (its value is the field's negation). ``decls`` replace the flag
    names, ``default`` the field's default (a required field defaults to None), ``annotation``
    its type; ``help_suffix`` is added to the help; ``option`` goes to ``typer.Option``."""
    f = cls.__dataclass_fields__[name]
    tp = _hint(cls, name)
    if default is _FIELD:
        default = None if f.default is MISSING else f.default
    names = list(decls) or _decls(name, f.metadata, tp, default)
    negated = tp is bool and len(names) == 1 and names[0].startswith("--no-") and default is True
    if negated:
        default = False
    param = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation or tp,
        default=typer.Option(default, *names, help=_plain(f.metadata.get("help", "") + help_suffix), **option))
    return param, negated


class Flags:
    """The options of one command, in the order ``--help`` lists them."""

    def __init__(self) -> None:
        self.params: list[inspect.Parameter] = []
        self._negated: set[str] = set()

    def field(self, cls: type, name: str, *decls: str, **kw: Any) -> Flags:
        """Add the option of one field (arguments: :func:`field_option`)."""
        param, negated = field_option(cls, name, *decls, **kw)
        self.params.append(param)
        if negated:
            self._negated.add(name)
        return self

    def fields(self, cls: type, *names: str) -> Flags:
        """Add the options of these fields, each as its metadata says."""
        for name in names:
            self.field(cls, name)
        return self

    def option(self, name: str, annotation: Any, default: Any) -> Flags:
        """Add an option (or argument) of the command's own, not a config field's:
        ``default`` is a ``typer.Option``/``typer.Argument``."""
        self.params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                             annotation=annotation, default=default))
        return self

    def extend(self, other: Flags) -> Flags:
        """Add the options of ``other``."""
        self.params += other.params
        self._negated |= other._negated
        return self

    @staticmethod
    def of(cls: type, values: dict[str, Any]) -> dict[str, Any]:
        """The entries of ``values`` that are fields of ``cls`` (its keyword arguments)."""
        names = {f.name for f in fields(cls)}
        return {k: v for k, v in values.items() if k in names}

    def command(self, app: typer.Typer, name: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register the decorated function as command ``name`` with these options; it is called
        with every option by keyword, a ``--no-x`` switch already turned into its field's value."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(fn)
            def command(**values: Any) -> Any:
                for key in self._negated:
                    values[key] = not values[key]
                return fn(**values)

            command.__signature__ = inspect.Signature(self.params)  # type: ignore[attr-defined]
            app.command(name, **kw)(command)
            return command

        return register
