"""Look up the state and timer specs of a kind of DoFn once, not at every bundle (issue #15).

Beam's `userstate.get_dofn_specs` walks `dir()` of a DoFn and reads the signature of every method it finds; Beam asks
it again for each DoFn when it builds, translates and validates a pipeline and twice more for each DoFn of each
bundle. A 40-image run called it 6,438 times (4,583 of them for the `CallableWrapperDoFn` behind every `beam.Map`)
and spent 5.3 s there, a quarter of its Beam steps' time.

Beam's answer is a function of what `dir()` and `getattr` find on the DoFn, so it is shared by every DoFn with the
same `specs_key`: its class, and the instance attributes that change what the class alone would give (a bound
method, whose signature is read, or anything that hides a class attribute, which is then skipped). A DoFn whose
answer could depend on more (custom attribute lookup or `dir()`, a property of its own, a method read through an
`_inspect_<name>` hook, no `__dict__`) has no key and is introspected every time, as Beam does.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import types
from typing import Any, Callable, Hashable, Iterator

Specs = tuple[set, set]
LOOKUP_HOOKS = ("__getattribute__", "__getattr__", "__dir__")


INSPECT_HOOK = "_inspect_"


@functools.lru_cache(maxsize=None)
def _class_hooks(cls: type) -> frozenset[str] | None:
    """The methods of `cls` that Beam reads through an `_inspect_<name>` hook, or None where the class's attributes
    could differ between its instances (custom attribute lookup or `dir()`, a property or other data descriptor
    that `DoFn` itself does not define)."""
    from apache_beam.transforms.core import DoFn

    if any(getattr(cls, hook, None) is not getattr(object, hook, None) for hook in LOOKUP_HOOKS):
        return None
    for name in dir(cls):
        static = inspect.getattr_static(cls, name)
        data_descriptor = hasattr(type(static), "__get__") and (
            hasattr(type(static), "__set__") or hasattr(type(static), "__delete__"))
        if data_descriptor and not name.startswith("__") and static is not inspect.getattr_static(DoFn, name, None):
            return None
    return frozenset(name[len(INSPECT_HOOK):] for name in dir(cls) if name.startswith(INSPECT_HOOK))


def specs_key(dofn: Any) -> Hashable | None:
    """What Beam's answer for `dofn` depends on, or None where it cannot be told without introspecting: its class,
    and each instance attribute that is a bound method (by its function) or hides a class attribute."""
    cls = type(dofn)
    attributes = getattr(dofn, "__dict__", None)
    hooks = _class_hooks(cls)
    if attributes is None or hooks is None:
        return None
    hooks = hooks | {name[len(INSPECT_HOOK):] for name in attributes if name.startswith(INSPECT_HOOK)}
    if any(not (name in attributes and not isinstance(attributes[name], types.MethodType)) for name in hooks):
        return None
    changes = []
    for name, value in attributes.items():
        if isinstance(value, types.MethodType):
            changes.append((name, value.__func__))
        elif hasattr(cls, name):
            changes.append((name, None))
    return cls, frozenset(changes)


def caching(get_specs: Callable[[Any], Specs]) -> Callable[[Any], Specs]:
    """`get_specs` answering from a cache by `specs_key`; each caller gets its own sets."""
    cache: dict[Hashable, Specs] = {}

    def get_dofn_specs(dofn: Any) -> Specs:
        key = specs_key(dofn)
        if key is None:
            return get_specs(dofn)
        if key not in cache:
            cache[key] = get_specs(dofn)
        state_specs, timer_specs = cache[key]
        return set(state_specs), set(timer_specs)

    get_dofn_specs.uncached = get_specs
    return get_dofn_specs


@contextlib.contextmanager
def cached_dofn_specs() -> Iterator[None]:
    """Within the block, Beam's `userstate.get_dofn_specs` answers from a cache (its module's other callers,
    `is_stateful_dofn` and `validate_stateful_dofn`, look it up there too); Beam's own function is back after it."""
    from apache_beam.transforms import userstate

    original = userstate.get_dofn_specs
    if hasattr(original, "uncached"):
        yield
        return
    userstate.get_dofn_specs = caching(original)
    try:
        yield
    finally:
        userstate.get_dofn_specs = original
