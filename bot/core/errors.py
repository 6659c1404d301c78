"""Refusals a user can understand: raised by services, translated and shown by handlers."""

from __future__ import annotations

from typing import Any


class Term(str):
    """A parameter of a UserError that is itself a msgid, to be translated too."""

    __slots__ = ()


class AnyOf(list[Any]):
    """A parameter that lists alternatives: shown as "a, b or c" (a plain list reads "a, b
    and c")."""

    __slots__ = ()


class UserError(Exception):
    """Something the user asked cannot be done; nothing was changed.

    `message` is an English msgid marked with N_; `params` fill its {placeholders} after
    translation (Term params are translated first; everything else is shown as given)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params
