"""Two answers Beam works out again and again in a small pipeline, each worked out once for a local run.

**DoFn state and timer specs.** `userstate.get_dofn_specs` walks `dir()` of a DoFn and reads the signature of every
method it finds; Beam asks it again for each DoFn when it builds, translates and validates a pipeline and twice more
for each DoFn of each bundle, thousands of times in a small run (most for the `CallableWrapperDoFn` behind every
`beam.Map`), a large share of its Beam steps' time (`python -m bench.calls` counts it). Beam's answer is a function of
what `dir()` and `getattr` find on the DoFn, so it is shared by every DoFn with the same `specs_key`: its class, and
the instance attributes that change what the class alone would give (a bound method, whose signature is read, or
anything that hides a class attribute, which is then skipped), provided no class or function changes during the
run. A DoFn whose answer could depend on more (custom attribute lookup or `dir()`, a descriptor of its class's own
such as a property, a method read through an `_inspect_<name>` hook, no `__dict__`) has no key and is introspected
every time, as Beam does.

**Views of pipeline options.** `PipelineOptions.view_as(cls)` builds an argument parser and parses the flags again
for every call, thousands of times in a small run (`python -m bench.calls --uncached` counts both). A view
holds nothing of its own: it reads and writes the options it was made from (`_all_options`, shared), so the first
view of each class is kept and handed out again.

Beam's pull request 9925 proposed memoizing this introspection and the options parsing, and was closed
unmerged; Beam 2.59 does neither.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import types
import weakref
from typing import Any, Callable, Hashable, Iterator

Specs = tuple[set, set]
_LOOKUP_HOOKS = ("__getattribute__", "__getattr__", "__dir__")
_INSPECT_HOOK = "_inspect_"
_MISSING = object()


def _same_for_every_instance(cls: type, name: str, dofn_class: type) -> bool:
    """Whether `getattr(instance, name)` gives every instance of `cls` the same thing, up to the instance a method
    is bound to: a function, static or class method, a plain value, or what `DoFn` itself defines. A property,
    a cached property or any other descriptor of the class's own may give each instance something else."""
    static = inspect.getattr_static(cls, name)
    return (
        static is inspect.getattr_static(dofn_class, name, _MISSING)
        or isinstance(static, (types.FunctionType, staticmethod, classmethod))
        or not hasattr(type(static), "__get__")
    )


@functools.lru_cache(maxsize=None)
def _class_hooks(cls: type) -> frozenset[str] | None:
    """The methods of `cls` that Beam reads through an `_inspect_<name>` hook, or None where the class's attributes
    could differ between its instances (custom attribute lookup or `dir()`, a descriptor of its own)."""
    from apache_beam.transforms.core import DoFn

    if any(getattr(cls, hook, None) is not getattr(object, hook, None) for hook in _LOOKUP_HOOKS):
        return None
    names = dir(cls)
    if not all(_same_for_every_instance(cls, name, DoFn) for name in names):
        return None
    return frozenset(name[len(_INSPECT_HOOK) :] for name in names if name.startswith(_INSPECT_HOOK))


def specs_key(dofn: Any) -> Hashable | None:
    """What Beam's answer for `dofn` depends on, or None where it cannot be told without introspecting: its class,
    and each instance attribute that is a bound method (by its function) or hides a class attribute."""
    cls = type(dofn)
    instance_dict = getattr(dofn, "__dict__", None)
    hooks = _class_hooks(cls)
    if instance_dict is None or hooks is None:
        return None
    attributes = dict(instance_dict)  # one copy, as Beam's dir() takes one, while another thread may change it
    if not all(isinstance(name, str) for name in attributes):
        return None
    hooks = hooks | {name[len(_INSPECT_HOOK) :] for name in attributes if name.startswith(_INSPECT_HOOK)}
    # A hooked method is read through its hook unless the instance hides it with something that is not a method.
    if any(name not in attributes or isinstance(attributes[name], types.MethodType) for name in hooks):
        return None
    changes = []
    for name, value in attributes.items():
        if isinstance(value, types.MethodType):
            changes.append((name, value.__func__))
        elif hasattr(cls, name):
            changes.append((name, None))
    try:
        return cls, frozenset(changes)
    except TypeError:  # a bound method of an unhashable callable
        return None


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


def caching_views(view_as: Callable[[Any, type], Any]) -> Callable[[Any, type], Any]:
    """`view_as` keeping the first view of each class per options object (held weakly) and returning it again."""
    views: weakref.WeakKeyDictionary[Any, dict[type, Any]] = weakref.WeakKeyDictionary()

    def cached_view_as(options: Any, cls: type) -> Any:
        per_class = views.setdefault(options, {})
        if cls not in per_class:
            per_class[cls] = view_as(options, cls)
        return per_class[cls]

    cached_view_as.uncached = view_as
    return cached_view_as


@contextlib.contextmanager
def beam_caches() -> Iterator[None]:
    """Within the block, Beam's `userstate.get_dofn_specs` answers from a cache (its module's other callers,
    `is_stateful_dofn` and `validate_stateful_dofn`, look it up there too) and `PipelineOptions.view_as` hands out
    the views it made before; Beam's own functions are back after it, also in a module that imported the name
    within the block. The caches assume that no class or function is changed while the block runs."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms import userstate

    if hasattr(userstate.get_dofn_specs, "uncached"):
        yield
        return
    original_specs, original_view_as = userstate.get_dofn_specs, PipelineOptions.view_as
    PipelineOptions.view_as = caching_views(original_view_as)
    cached_specs = userstate.get_dofn_specs = caching(original_specs)
    try:
        yield
    finally:
        userstate.get_dofn_specs = original_specs
        PipelineOptions.view_as = original_view_as
        for module in list(sys.modules.values()):  # a module that imported the name within the block
            if getattr(module, "__dict__", {}).get("get_dofn_specs") is cached_specs:
                module.get_dofn_specs = original_specs
