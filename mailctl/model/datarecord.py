"""`@datarecord`: a dataclass whose methods are shared, not generated.

dataclass() writes each class's __init__, __repr__, __eq__ (and, frozen,
__setattr__, __delattr__ and __hash__) as source text and compiles it: about
0.3 ms a class, and an everyday command defines some thirty of them before it
does any work. A datarecord is still a dataclass (fields(), replace() and asdict()
work, and type checkers see the same constructor through dataclass_transform),
but those methods are the closures below, built from the field list without
compiling anything. Same behaviour: positional or keyword arguments, defaults
and default factories, equality of same-class instances field by field, frozen
instances refuse assignment and hash by their fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING


@overload
def datarecord(cls: type[T], /) -> type[T]: ...
@overload
def datarecord(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def datarecord(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    def wrap(cls: type[T]) -> type[T]:
        dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
        names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        methods: dict[str, Any] = {
            "__init__": _init(cls),
            "__repr__": _repr(names),
            "__eq__": _eq(names),
            # as dataclass(): frozen hashes by its fields; mutable with eq is unhashable
            "__hash__": _hash(names) if frozen else None,
        }
        if frozen:
            methods.update(__setattr__=_refuse, __delattr__=_refuse)
        for name, method in methods.items():
            setattr(cls, name, method)
        return cls

    return wrap if cls is None else wrap(cls)


def _init(cls: type) -> Callable[..., None]:
    spec = [(f.name, f.default, f.default_factory) for f in dataclasses.fields(cls)]
    set_field = object.__setattr__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(spec):
            raise TypeError(f"{cls.__name__}() takes {len(spec)} arguments, {len(args)} given")
        for index, (name, default, factory) in enumerate(spec):
            if index < len(args):
                if name in kwargs:
                    raise TypeError(f"{cls.__name__}() got {name!r} twice")
                value = args[index]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif default is not _MISSING:
                value = default
            elif factory is not _MISSING:
                value = factory()  # type: ignore[operator]
            else:
                raise TypeError(f"{cls.__name__}() needs {name!r}")
            set_field(self, name, value)
        if kwargs:
            raise TypeError(f"{cls.__name__}() has no field {', '.join(map(repr, kwargs))}")

    return __init__


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _eq(names: tuple[str, ...]) -> Callable[[Any, object], bool]:
    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in names)

    return __eq__


def _hash(names: tuple[str, ...]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, name) for name in names))

    return __hash__


def _refuse(self: Any, name: str, *_value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to or delete field {name!r}")
