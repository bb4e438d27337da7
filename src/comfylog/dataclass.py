"""``dataclass``: ``dataclasses.dataclass`` with shared ``__eq__``, ``__repr__`` and ``__hash__`` functions.

On Python 3.11 dataclass writes each class's ``__eq__``, ``__repr__`` and (frozen) ``__hash__`` as source
text and compiles it: about 1.4 M instructions a class of ten fields, and comfylog defines some sixty
classes on every start (~100 M of a small log's 840 M, issue 14). This one lets dataclass make the rest
(``__init__``, frozen's ``__setattr__``, slots, ``__match_args__``) and gives the class functions made from
its field names, which behave as the generated ones do: equal when the other is of the same class and the
tuples of compared fields are equal, ``Name(field=value, ...)`` guarded against recursion, a frozen class
hashed by the tuple of its hashed fields, an unfrozen one unhashable; a method the class defines itself
is kept. Type checkers see ``dataclasses.dataclass`` itself.

A frozen class's ``__setattr__`` and ``__delattr__`` are compiled the same way (~1.4 M instructions a class,
26 frozen classes in a small log's analyze); on Python 3.10-3.12, whose dataclass asks
``_frozen_get_del_attr`` for them, it is given closures that do what the compiled ones do (3.13 compiles
all of a class's methods at once and is left alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass  # re-exported: mypy sees the real one
else:
    import dataclasses
    import sys
    from operator import attrgetter
    from reprlib import recursive_repr

    #: Python versions whose dataclass makes a frozen class's two methods with _frozen_get_del_attr(cls, fields,
    #: globals) and sets them on the class (3.13 builds every method through one FuncBuilder instead).
    SHARED_FROZEN_METHODS = (3, 10) <= sys.version_info < (3, 13) and hasattr(dataclasses, "_frozen_get_del_attr")

    def dataclass(cls=None, /, *, frozen=False, slots=False):
        """As ``dataclass(cls, frozen=frozen, slots=slots)`` (comparison, repr and hash included)."""

        def make(cls):
            own = cls.__dict__
            has_eq, has_repr = "__eq__" in own, "__repr__" in own
            class_hash = own.get("__hash__", dataclasses.MISSING)
            # dataclass's rule: a __hash__ set to None by the class's own __eq__ is not the class's own
            own_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and has_eq))
            if frozen and SHARED_FROZEN_METHODS:
                compiled, dataclasses._frozen_get_del_attr = dataclasses._frozen_get_del_attr, _frozen_methods
                try:
                    made = dataclasses.dataclass(cls, frozen=frozen, slots=slots, eq=False, repr=False)
                finally:
                    dataclasses._frozen_get_del_attr = compiled
            else:
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

    def _frozen_methods(cls, fields, globals):
        """dataclasses._frozen_get_del_attr's ``__setattr__`` and ``__delattr__``, as closures: the same tests,
        the same errors, the same ``cls`` (the class as it was before slots made it anew, as there)."""
        names = tuple(f.name for f in fields)

        def __setattr__(self, name, value):
            if type(self) is cls or name in names:
                raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
            super(cls, self).__setattr__(name, value)

        def __delattr__(self, name):
            if type(self) is cls or name in names:
                raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
            super(cls, self).__delattr__(name)

        module = globals.get("__name__", cls.__module__)
        __setattr__.__module__ = __delattr__.__module__ = module
        return __setattr__, __delattr__

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
