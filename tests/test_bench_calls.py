"""`python -m bench.calls` times the functions it names where their callers look them up."""
import json

from bench import calls
from pipeline.reporting import tables


class Holder:
    def method(self, value):
        return value + 1


def test_a_timer_counts_every_call_and_keeps_the_result(monkeypatch):
    monkeypatch.setattr(tables, "text_table", tables.text_table)
    monkeypatch.setattr(Holder, "method", Holder.method)
    counts = calls.install_timers(("pipeline.reporting.tables:text_table", "tests.test_bench_calls:Holder.method"))
    assert tables.text_table(["a"], [[1]], rule=False) == "a\n1"
    assert [Holder().method(n) for n in range(3)] == [1, 2, 3]
    assert counts["pipeline.reporting.tables:text_table"][0] == 1
    assert counts["tests.test_bench_calls:Holder.method"][0] == 3 and counts["tests.test_bench_calls:Holder.method"][1] > 0
    assert json.dumps(counts)


def test_every_timed_function_exists_where_it_is_named():
    for target in calls.TIMED:
        owner, name = calls._owner_and_name(target)
        assert callable(getattr(owner, name)), target
