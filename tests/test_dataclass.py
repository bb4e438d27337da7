"""comfylog.dataclass: the same classes as dataclasses.dataclass makes, their equality, repr and hash made
by shared functions instead of compiled source (issue 14: start-up). Each class is made both ways and
compared on the same values."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from comfylog import dataclass as ours
from comfylog.model import ErrorRecord, Evidence, Load, Phases


def _both(body: dict[str, Any], annotations: dict[str, str], **options: Any) -> tuple[type, type]:
    """The class ``body`` made by the stdlib's dataclass and by comfylog's."""
    made = []
    for decorator in (dataclasses.dataclass, ours.dataclass):
        cls = type("Thing", (), {**body, "__annotations__": dict(annotations), "__qualname__": "Outer.Thing"})
        made.append(decorator(**options)(cls))
    return made[0], made[1]


FIELDS = {"a": "int", "b": "float", "c": "list[int]", "d": "str"}
BODY = {"c": dataclasses.field(default_factory=list, compare=False), "d": dataclasses.field(default="x", repr=False)}


@pytest.mark.parametrize("options", [{}, {"frozen": True}, {"slots": True}, {"frozen": True, "slots": True}])
def test_equality_repr_and_hash_are_the_stdlibs(options: dict[str, bool]) -> None:
    theirs, mine = _both(BODY, FIELDS, **options)
    for cls in (theirs, mine):
        assert [f.name for f in dataclasses.fields(cls)] == ["a", "b", "c", "d"]
    nan = float("nan")
    pairs = [((1, 2.0, [1]), (1, 2.0, [2])), ((1, nan, []), (1, nan, [])), ((1, 2.0, []), (2, 2.0, []))]
    for left, right in pairs:
        got = [(cls(*left) == cls(*right), cls(*left) != cls(*right), repr(cls(*left))) for cls in (theirs, mine)]
        assert got[0] == got[1]
    same_nan = [(lambda x: x == x)(cls(1, nan)) for cls in (theirs, mine)]  # the same object: equal (tuple identity)
    assert same_nan == [True, True]
    assert (mine(1, 2.0) == (1, 2.0)) is False and mine(1, 2.0).__eq__((1, 2.0)) is NotImplemented
    if options.get("frozen"):
        assert hash(theirs(1, 2.0, [1])) == hash(mine(1, 2.0, [2])) == hash((1, 2.0, "x"))  # c is not compared
        with pytest.raises(dataclasses.FrozenInstanceError):
            mine(1, 2.0).a = 3  # type: ignore[misc]
    else:
        assert theirs.__hash__ is None and mine.__hash__ is None
    assert mine.__match_args__ == theirs.__match_args__ == ("a", "b", "c", "d")


def test_a_method_the_class_defines_is_kept_and_recursion_is_cut() -> None:
    def eq(self: Any, other: object) -> bool:
        return True

    theirs, mine = _both({"__eq__": eq, "__repr__": lambda self: "own"}, {"a": "int"})
    assert mine(1) == mine(2) and repr(mine(1)) == "own" and mine.__hash__ is None is theirs.__hash__
    theirs, mine = _both({}, {"a": "Any"})
    loops = [cls([]) for cls in (theirs, mine)]
    for thing in loops:
        thing.a.append(thing)
    assert repr(loops[0]) == repr(loops[1]) == "Outer.Thing(a=[...])"


def test_the_records_compare_repr_and_pickle_as_before() -> None:
    """model.py's records, which the spool pickles and the tests compare."""
    phases = Phases(1.0, 2.0, 3.0, 4.0)
    assert phases == Phases(1.0, 2.0, 3.0, 4.0) != Phases(1.0, 2.0, 3.0, 5.0)
    assert repr(phases) == "Phases(load=1.0, inference=2.0, wait=3.0, other=4.0)"
    load = Load(1, "model.safetensors", "partial", 10.5, 2.0, 3)
    error = ErrorRecord(1, "oom", "CUDA out of memory", 12)
    for record in (load, error, phases):
        assert pickle.loads(pickle.dumps(record)) == record
    assert load != Load(1, "model.safetensors", "partial", 10.5, 2.0, 4)
    assert Load.__hash__ is None and Evidence.__hash__ is None and Evidence(3, "text") == Evidence(3, "text", 0)


@pytest.mark.parametrize("slots", [False, True])
def test_a_frozen_class_refuses_assignment_and_deletion_as_the_stdlibs(slots: bool) -> None:
    """The shared __setattr__/__delattr__ (Python 3.10-3.12) say what the compiled ones say, on the class and
    on an unfrozen subclass (whose own attributes may be set, its fields not)."""
    theirs, mine = _both(BODY, FIELDS, frozen=True, slots=slots)
    if ours.SHARED_FROZEN_METHODS:
        assert mine.__setattr__.__code__ is not theirs.__setattr__.__code__
        assert mine.__setattr__.__code__ is _both({}, {"z": "int"}, frozen=True)[1].__setattr__.__code__  # shared
    seen = []
    for cls in (theirs, mine):
        assert cls.__setattr__.__qualname__ == "Outer.Thing.__setattr__" and cls.__setattr__.__module__ == __name__
        sub = type("Sub", (cls,), {})  # not a dataclass, no slots: its instances have a __dict__
        outcomes = []
        for obj in (cls(1, 2.0), sub(1, 2.0)):
            for act in (lambda o: setattr(o, "a", 5), lambda o: delattr(o, "b"), lambda o: setattr(o, "new", 1),
                        lambda o: delattr(o, "new")):
                try:
                    act(obj)
                    outcomes.append("ok")
                except Exception as exc:  # noqa: BLE001 - the error itself is compared
                    outcomes.append(f"{type(exc).__name__}: {exc}")
        seen.append(outcomes)
    assert seen[0] == seen[1]
    assert seen[0][:2] == ["FrozenInstanceError: cannot assign to field 'a'",
                           "FrozenInstanceError: cannot delete field 'b'"]
