"""``dataclass``: ``dataclasses.dataclass`` with shared ``__eq__``, ``__repr__`` and ``__hash__`` functions.

On Python 3.11 dataclass writes each class's ``__eq__``, ``__repr__`` and (frozen) ``__hash__`` as source
text and compiles it: about 1.4 M instructions a class of ten fields, and comfylog defines some sixty
classes on every start (~100 M of a small log's 840 M, issue 14). This one lets dataclass make the rest
(``__init__``, frozen's ``__setattr__``, slots, ``__match_args__``) and gives the class functions made from
its field names, which behave as the generated ones do: equal when the other is of the same class and the
tuples of compared fields are equal, ``Name(field=value, ...)`` guarded against recursion, a frozen class
hashed by the tuple of its hashed fields, an unfrozen one unhashable; a method the class defines itself
is kept. Type checkers see ``dataclasses.dataclass`` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass  # re-exported: mypy sees the real one
else:
    import dataclasses
    from operator import attrgetter
    from reprlib import recursive_repr

    def dataclass(cls=None, /, *, frozen=False, slots=False):
        """As ``dataclass(cls, frozen=frozen, slots=slots)`` (comparison, repr and hash included)."""

        def make(cls):
            own = cls.__dict__
            has_eq, has_repr = "__eq__" in own, "__repr__" in own
            class_hash = own.get("__hash__", dataclasses.MISSING)
            # dataclass's rule: a __hash__ set to None by the class's own __eq__ is not the class's own
            own_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and has_eq))
            made = dataclasses.dataclass(cls, frozen=frozen, slots=slots, eq=False, repr=False)
            fields = dataclasses.fields(made)
            if not has_repr:
                made.__repr__ = _repr([f.name for f in fields if f.repr])
            if not has_eq:
                made.__eq__ = _eq(_values([f.name for f in fields if f.compare]))
            if not own_hash:
                hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
                made.__hash__ = _hash(_values(hashed)) if frozen else None
            return made

        return make if cls is None else make(cls)

    def _values(names):
        """The tuple of a record's named fields (attrgetter gives one name's value alone)."""
        if not names:
            return lambda obj: ()
        if len(names) == 1:
            get = attrgetter(names[0])
            return lambda obj: (get(obj),)
        return attrgetter(*names)

    def _eq(values):
        def __eq__(self, other):
            if other.__class__ is self.__class__:
                return values(self) == values(other)
            return NotImplemented

        return __eq__

    def _hash(values):
        def __hash__(self):
            return hash(values(self))

        return __hash__

    def _repr(names):
        @recursive_repr()
        def __repr__(self):
            return (self.__class__.__qualname__ + "("
                    + ", ".join(f"{name}={getattr(self, name)!r}" for name in names) + ")")

        return __repr__
