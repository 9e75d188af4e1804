"""The cyclic GC is paused while kerax traces, lowers and compiles a step
and while a lazily imported module loads; it comes back as the user had it."""
import gc
import threading

import jax
import numpy as np
import pytest

import kerax
from kerax.core.gc_pause import PausedFirstCall, gc_paused


@pytest.fixture
def gc_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_nested_pauses_and_threads(gc_on):
    seen = []
    with gc_paused():
        with gc_paused():
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())
        # another thread's pause ending inside ours does not switch it back on
        def other():
            with gc_paused():
                pass
        th = threading.Thread(target=other)
        th.start()
        th.join()
        seen.append(gc.isenabled())
    assert seen == [False, False, False] and gc.isenabled()


def test_a_user_who_switched_gc_off_keeps_it_off(gc_on):
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_first_call_runs_paused_then_the_function_itself(gc_on):
    states, swapped = [], []

    def fn(x):
        states.append(gc.isenabled())
        return x + 1
    first = PausedFirstCall(fn, swapped.append)
    assert first(1) == 2 and swapped == [fn] and states == [False] and gc.isenabled()
    assert first.__name__ == "fn"  # other attributes are the function's


class _Spy(kerax.layers.Layer):
    """Records whether the GC was on each time its call runs (in a trace)."""

    def __init__(self, log, **kwargs):
        super().__init__(**kwargs)
        self.log = log

    def call(self, x):
        if isinstance(x, jax.core.Tracer):  # in a trace of a step (not the build)
            self.log.append(gc.isenabled())
        return x


def test_fit_traces_with_gc_paused_and_restores_it(gc_on):
    log = []
    kerax.utils.set_random_seed(0)
    model = kerax.Sequential([kerax.Input((3,)), _Spy(log), kerax.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 1), np.float32)
    log.clear()  # the build's shape inference is not a step's trace
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert log and not any(log)  # every trace of the step ran paused
    assert gc.isenabled()
    gc.disable()  # a user's setting survives fit
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert not gc.isenabled()
    gc.enable()
    # the engines swapped their paused first call for the jitted function
    engines = model._trainer_state.engines.values()
    assert engines
    for eng in engines:
        assert not any(isinstance(c[0], PausedFirstCall) for c in eng._compiled.values())


def test_kerax_function_first_call_paused(gc_on):
    log = []

    @kerax.function
    def f(x):
        log.append(gc.isenabled())
        return x * 2
    np.testing.assert_allclose(f(np.ones(2, np.float32)), [2, 2])
    f(np.ones(2, np.float32))
    assert log == [False] and gc.isenabled()
