"""`python -m bench.calls` times the functions it names where their callers look them up, and can run without the
local runner's Beam caches."""

from bench import calls
from pipeline.reporting import tables


class Holder:
    def method(self, value):
        return value + 1


def test_a_timer_counts_every_call_and_keeps_the_result(monkeypatch):
    # Set each target to itself so that monkeypatch puts the original back over the timer after the test.
    monkeypatch.setattr(tables, "text_table", tables.text_table)
    monkeypatch.setattr(Holder, "method", Holder.method)
    counts = calls.install_timers(("pipeline.reporting.tables:text_table", "tests.test_bench_calls:Holder.method"))
    assert tables.text_table(["a"], [[1]], rule=False) == "a\n1"
    assert [Holder().method(n) for n in range(3)] == [1, 2, 3]
    assert counts["pipeline.reporting.tables:text_table"].calls == 1
    method = counts["tests.test_bench_calls:Holder.method"]
    assert method.calls == 3 and method.seconds > 0 and Holder.method.__name__ == "method"


def test_every_timed_function_exists_where_it_is_named():
    for target in calls.TIMED:
        owner, name = calls._owner_and_name(target)
        assert callable(getattr(owner, name)), target


def test_uncached_leaves_the_local_runner_without_its_beam_caches(monkeypatch):
    from apache_beam.transforms import userstate

    from pipeline import beam_caches, local_runner

    monkeypatch.setattr(beam_caches, "beam_caches", beam_caches.beam_caches)
    if hasattr(local_runner, "beam_caches"):
        monkeypatch.setattr(local_runner, "beam_caches", local_runner.beam_caches)
    calls.without_beam_caches()
    from pipeline.beam_caches import beam_caches as looked_up

    original = userstate.get_dofn_specs
    with looked_up():
        assert userstate.get_dofn_specs is original
