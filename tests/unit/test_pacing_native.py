"""Pacing's arithmetic compiled by mypyc (ADR 0043) is the module as its source stands: built from
it, and giving the same results, float for float, as the same source run as plain Python."""

from __future__ import annotations

import bisect
import importlib.util
import os
from pathlib import Path
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer_domain.rules import pacing_math

SOURCE = Path(pacing_math.__file__).with_name("pacing_math.py")


def plain() -> ModuleType:
    """The source run as plain Python, under another name beside the installed module."""
    spec = importlib.util.spec_from_file_location("pacing_math_plain_source", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLAIN = plain()


def test_the_installed_module_is_compiled_from_the_source_as_it_stands() -> None:
    assert PLAIN.COMPILED is False  # so the comparisons below run the standard library's bisection against the written-out one
    if os.environ.get("DIALER_PURE_PYTHON") == "1":
        assert pacing_math.__file__.endswith(".py") and pacing_math.COMPILED is False
        return
    assert pacing_math.COMPILED is True
    built = Path(pacing_math.__file__)
    assert built.suffix == ".so", f"{built} is not compiled: run scripts/bootstrap (it needs a C compiler; ADR 0043)"
    assert built.stat().st_mtime >= SOURCE.stat().st_mtime, f"{built.name} is older than {SOURCE.name}: run scripts/bootstrap"
    assert PLAIN.__file__ == str(SOURCE)


floats = st.floats(0.0, 700.0, allow_nan=False)
samples = st.lists(st.floats(0.0, 600.0, allow_nan=False), max_size=60).map(sorted)


@settings(max_examples=300, deadline=None)
@given(samples, st.floats(-5.0, 700.0, allow_nan=False), st.integers(0, 70), st.integers(0, 70))
def test_the_written_out_bisection_is_the_standard_librarys(s: list[float], x: float, lo: int, hi: int) -> None:
    lo, hi = min(lo, len(s)), min(max(lo, hi), len(s))
    want = bisect.bisect_right(s, x, lo, hi)
    assert pacing_math.bisect_right(s, x, lo, hi) == PLAIN.bisect_right(s, x, lo, hi) == want


@st.composite
def decisions(draw: st.DrawFn) -> tuple[object, ...]:
    g = draw(st.integers(1, 12))
    grid = [3.0 * (i + 1) for i in range(g)]
    cum = sorted(draw(st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=g, max_size=g)))
    final = cum[-1] if cum[-1] > 0 else 1.0
    weights = [(c - p) / final for c, p in zip(cum, [0.0, *cum[:-1]], strict=True)]
    steps = [int(t) + 1 for t in grid]
    human = draw(st.lists(st.integers(0, 40), min_size=91, max_size=91))
    ended = draw(st.lists(st.integers(0, 40), min_size=91, max_size=91))
    suffix_h = [float(sum(human[b:])) for b in range(91)] + [0.0]
    suffix_all = [float(sum(human[b:]) + sum(ended[b:])) for b in range(91)] + [0.0]
    wrap = draw(samples)
    talk = draw(samples)
    wrap_mean = sum(wrap) / len(wrap) if wrap else 0.0
    return (
        (grid, weights, cum, steps, suffix_h, suffix_all),
        (wrap, wrap_mean),
        talk,
        draw(st.integers(0, 5)),
        draw(st.integers(0, 30)),
        tuple(draw(st.lists(st.floats(0.0, 120.0, allow_nan=False), max_size=30))),
        tuple(draw(st.lists(floats, max_size=20))),
        tuple(draw(st.lists(floats, max_size=40))),
        draw(st.integers(0, 400)),
        draw(st.floats(1e-4, 0.5)),
    )


@settings(max_examples=400, deadline=None)
@given(decisions())
def test_compiled_and_plain_make_the_same_decision_with_the_same_floats(args: tuple[object, ...]) -> None:
    answers, wrap, talk, waiting, ready, dialling, wrapping, talking, room, allowance = args
    compiled = pacing_math.predict(answers, {}, wrap, talk, waiting, ready, dialling, wrapping, talking, room, allowance)  # type: ignore[arg-type]
    source = PLAIN.predict(answers, {}, wrap, talk, waiting, ready, dialling, wrapping, talking, room, allowance)
    assert compiled == source
    # and the same when every call's chances are already known
    known: dict[int, list[tuple[float, float]]] = {}
    first = pacing_math.predict(answers, known, wrap, talk, waiting, ready, dialling, wrapping, talking, room, allowance)  # type: ignore[arg-type]
    assert pacing_math.predict(answers, known, wrap, talk, waiting, ready, dialling, wrapping, talking, room, allowance) == first == source  # type: ignore[arg-type]
