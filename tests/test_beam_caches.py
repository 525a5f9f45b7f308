"""The caches of Beam's DoFn state and timer specs and of its options views give Beam's own answers: the specs only
where the DoFn's kind decides them, the views as live as Beam's."""

import functools
import sys
import types

import apache_beam as beam
import pytest
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, StandardOptions, TypeOptions
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.core import CallableWrapperDoFn
from apache_beam.typehints.decorators import IOTypeHints
from apache_beam.typehints.typecheck import TypeCheckWrapperDoFn

from pipeline.beam_caches import beam_caches, caching, caching_views, specs_key

COUNT = userstate.BagStateSpec("count", VarIntCoder())
FLUSH = userstate.TimerSpec("flush", userstate.TimeDomain.WATERMARK)
ORIGINAL = userstate.get_dofn_specs


class Counting(beam.DoFn):
    def process(self, element, count=beam.DoFn.StateParam(COUNT), flush=beam.DoFn.TimerParam(FLUSH)):
        count.add(1)
        yield element

    @userstate.on_timer(FLUSH)
    def on_flush(self):
        pass


class Plain(beam.DoFn):
    def process(self, element):
        yield element


class WithProperty(Plain):
    @property
    def start_bundle(self):
        return Counting().process


class Delegating(Plain):
    def __getattr__(self, name):
        return getattr(Counting(), name)


class Lazy(Plain):
    """Its `helper` differs by instance, through a descriptor with no `__set__` (a cached property)."""

    def __init__(self, stateful):
        super().__init__()
        self.stateful = stateful

    @functools.cached_property
    def helper(self):
        return Counting().process if self.stateful else Plain().process


class Unhashable:
    __hash__ = None

    def __call__(self, element):
        return [element]


class Holder:
    def stateful(self, element, count=beam.DoFn.StateParam(COUNT)):
        return [element]

    def plain(self, element):
        return [element]


def _counting_calls():
    calls = []

    def introspect(dofn):
        calls.append(type(dofn).__name__)
        return ORIGINAL(dofn)

    return calls, caching(introspect)


def test_a_kind_of_dofn_is_introspected_once_and_each_caller_gets_its_own_sets():
    calls, cached = _counting_calls()
    for dofn in (Counting(), Counting(), Plain(), Plain()):
        assert cached(dofn) == ORIGINAL(dofn)
    assert calls == ["Counting", "Plain"]
    states, _ = cached(Counting())
    states.clear()
    assert cached(Counting()) == ({COUNT}, {FLUSH})


def test_maps_of_plain_functions_share_an_answer_and_a_dofn_holding_a_method_is_keyed_by_it():
    """Every `beam.Map` is a CallableWrapperDoFn: one answer for all plain functions; a map of a bound method is read
    through the class's `_inspect_process` hook, so it is introspected each time."""
    holder = Holder()
    functions = [CallableWrapperDoFn(lambda element: [element]), CallableWrapperDoFn(len)]
    methods = [CallableWrapperDoFn(holder.stateful), CallableWrapperDoFn(holder.plain)]
    calls, cached = _counting_calls()
    for dofn in functions + methods:
        assert cached(dofn) == ORIGINAL(dofn)
    assert len(calls) == 3 and [specs_key(dofn) is None for dofn in methods] == [True, True]
    assert cached(methods[0]) == ({COUNT}, set())
    shadowed, plain = Plain(), Plain()
    shadowed.process = Counting().process
    assert cached(shadowed) == ORIGINAL(shadowed) == ({COUNT}, {FLUSH}) and cached(plain) == (set(), set())
    assert specs_key(shadowed) != specs_key(plain)


def test_dofns_whose_instances_could_differ_are_introspected_every_time():
    method_of_unhashable = Plain()
    method_of_unhashable.helper = types.MethodType(Unhashable(), method_of_unhashable)
    dofns = [
        TypeCheckWrapperDoFn(Counting(), IOTypeHints.empty()),
        WithProperty(),
        Delegating(),
        Lazy(True),
        Lazy(False),
        method_of_unhashable,
    ]
    for dofn in dofns:
        assert specs_key(dofn) is None
    calls, cached = _counting_calls()
    for dofn in dofns * 2:
        assert cached(dofn) == ORIGINAL(dofn)
    assert cached(dofns[0]) == cached(dofns[1]) == cached(dofns[3]) == ({COUNT}, {FLUSH})
    assert cached(dofns[2]) == cached(dofns[4]) == (set(), set())
    assert len(calls) == 2 * len(dofns) + 5


def test_the_caches_hold_for_the_block_and_beams_own_functions_are_back_after_it():
    original_view_as = PipelineOptions.view_as
    with beam_caches():
        assert userstate.get_dofn_specs is not ORIGINAL and userstate.is_stateful_dofn(Counting())
        assert PipelineOptions.view_as.uncached is original_view_as
        with beam_caches():
            assert userstate.get_dofn_specs.uncached is ORIGINAL
        assert not userstate.is_stateful_dofn(Plain())
    assert userstate.get_dofn_specs is ORIGINAL and PipelineOptions.view_as is original_view_as


def test_a_module_that_imported_the_cached_function_within_the_block_gets_beams_back(monkeypatch):
    module = types.ModuleType("imports_within_the_block")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with beam_caches():
        exec("from apache_beam.transforms.userstate import get_dofn_specs", module.__dict__)
        assert module.get_dofn_specs is not ORIGINAL
    assert module.get_dofn_specs is ORIGINAL


def test_a_kept_view_reads_and_writes_its_options_as_a_new_one_would():
    view_as = caching_views(PipelineOptions.view_as)
    options = PipelineOptions(["--runner=DirectRunner", "--experiments=a"])
    standard = view_as(options, StandardOptions)
    assert view_as(options, StandardOptions) is standard and standard.runner == "DirectRunner"
    standard.runner = "PortableRunner"
    assert options.view_as(StandardOptions).runner == "PortableRunner" == view_as(options, StandardOptions).runner
    view_as(options, DebugOptions).add_experiment("b")
    assert options.view_as(DebugOptions).experiments == ["a", "b"]
    other = PipelineOptions(["--runner=DirectRunner"])
    assert view_as(other, StandardOptions) is not standard and view_as(other, StandardOptions).runner == "DirectRunner"
    assert view_as(other, DebugOptions).experiments is None
    assert view_as(options, TypeOptions).pipeline_type_check == options.view_as(TypeOptions).pipeline_type_check


@pytest.mark.parametrize("options", [[], ["--runtime_type_check"]])
def test_every_answer_in_a_real_pipeline_is_beams_own(monkeypatch, options):
    """A DirectRunner pipeline with maps, bound methods, side inputs, a combine, a stateful DoFn and (with runtime
    type checks, which the options views must carry) wrapped DoFns, where every lookup is answered by the cache and
    checked against Beam's."""
    cached, answers = caching(ORIGINAL), []

    def checked(dofn):
        answer = cached(dofn)
        assert answer == ORIGINAL(dofn), type(dofn)
        answers.append((type(dofn).__name__, specs_key(dofn) is not None))
        return answer

    monkeypatch.setattr(userstate, "get_dofn_specs", checked)
    monkeypatch.setattr(PipelineOptions, "view_as", caching_views(PipelineOptions.view_as))
    holder = Holder()
    with beam.Pipeline(options=PipelineOptions(options)) as pipeline:
        numbers = pipeline | beam.Create([1, 2, 3, 4])
        total = numbers | "Sum" >> beam.CombineGlobally(sum)
        keyed = (
            numbers
            | "Plain" >> beam.FlatMap(holder.plain)
            | beam.Map(lambda n, t: (n % 2, n * t), t=beam.pvalue.AsSingleton(total))
        )
        counted = keyed | "Count" >> beam.ParDo(Counting())
        grouped = keyed | beam.GroupByKey() | beam.MapTuple(lambda key, values: (key, sorted(values)))
        assert_that(counted | "Values" >> beam.Map(lambda pair: pair[1]), equal_to([10, 20, 30, 40]), label="counted")
        assert_that(grouped, equal_to([(0, [20, 40]), (1, [10, 30])]), label="grouped")
    assert len(answers) > 20 and any(keyed for _, keyed in answers)
    assert any(kind.endswith("CheckWrapperDoFn") for kind, _ in answers) == bool(options)


@pytest.mark.slow
def test_every_answer_in_the_projects_pipeline_up_to_the_evaluator_is_beams_own(tmp_path, monkeypatch):
    """The pipeline's own DoFns (TFX's ExampleGen, TFDV, tf.Transform, TFMA), run to the Evaluator on a tiny folder
    by `local_runner.run_pipeline`, with each answer the cache gives checked against Beam's."""
    from pipeline import beam_caches as caches
    from pipeline import local_runner
    from tests.helpers import tiny_config, write_image_folder

    real_caching, kinds, mismatches = caches.caching, [], []

    def checking(get_specs):
        cached = real_caching(get_specs)

        def check(dofn):
            answer = cached(dofn)
            kinds.append(type(dofn).__name__)
            if answer != get_specs(dofn):
                mismatches.append(type(dofn).__name__)
            return answer

        check.uncached = get_specs
        return check

    monkeypatch.setattr(caches, "caching", checking)
    data = write_image_folder(tmp_path / "data", {"circle": 8, "square": 8}, size=24)
    config, paths = local_runner.localize(
        tiny_config(
            "model.architectures=v1",
            f"data.root={data}",
            f"pipeline.home={tmp_path / 'home'}",
            f"registry.root={tmp_path / 'registry'}",
        )
    )
    local_runner.run_pipeline(config, paths, example_count=16, to_nodes=["Evaluator_mobilenet_v1"])
    assert not mismatches
    assert len(kinds) > 1000 and {"CallableWrapperDoFn", "_RunMetaGraphDoFn", "ModelSignaturesDoFn"} <= set(kinds)
