"""One model used from several threads (issue 12, item 6): predict and
evaluate never donate the weights, so concurrent calls all succeed with the
right values; evaluate calls queue (they share the metrics); predict while
another thread trains sees whole weights; two threads training one model at
once is a clear error."""
import threading

import numpy as np
import pytest

import kerax

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _model():
    model = kerax.Sequential([kerax.Input((6,)), kerax.layers.Dense(8, activation="relu"),
                              kerax.layers.Dense(2)])
    model.compile("adam", "mse", metrics=["mae"])
    return model


def _numpy_forward(model, x):
    w1, b1, w2, b2 = model.get_weights()
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def _in_threads(fns):
    """Run each fn in its own thread at once; return their results or errors."""
    results = [None] * len(fns)
    start = threading.Barrier(len(fns))

    def run(i):
        start.wait()
        try:
            results[i] = fns[i]()
        except Exception as e:  # noqa: BLE001 - reported by the test
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_predict_and_evaluate():
    rng = np.random.default_rng(0)
    model = _model()
    xs = [rng.normal(size=(n, 6)).astype(np.float32) for n in (40, 23, 64, 9)]
    ys = [rng.normal(size=(len(x), 2)).astype(np.float32) for x in xs]
    model.predict(xs[0], batch_size=8, verbose=0)  # compile outside the race
    model.evaluate(xs[0], ys[0], batch_size=8, verbose=0)

    def predicts(i):
        return lambda: [model.predict(xs[(i + j) % 4], batch_size=8, verbose=0)
                        for j in range(8)]

    def evaluates(i):
        return lambda: [model.evaluate(xs[(i + j) % 4], ys[(i + j) % 4], batch_size=8,
                                       verbose=0) for j in range(4)]

    results = _in_threads([predicts(i) for i in range(4)] + [evaluates(i) for i in range(2)])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    for i, outs in enumerate(results[:4]):
        for j, out in enumerate(outs):
            x = xs[(i + j) % 4]
            np.testing.assert_allclose(out, _numpy_forward(model, x), rtol=1e-5, atol=1e-5)
    for i, logs in enumerate(results[4:]):
        for j, (loss, mae) in enumerate(logs):
            x, y = xs[(i + j) % 4], ys[(i + j) % 4]
            err = _numpy_forward(model, x) - y
            np.testing.assert_allclose(loss, np.mean(err ** 2), rtol=1e-5)
            np.testing.assert_allclose(mae, np.mean(np.abs(err)), rtol=1e-5)


def test_predict_while_another_thread_trains():
    rng = np.random.default_rng(1)
    model = _model()
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = rng.normal(size=(256, 2)).astype(np.float32)
    model.fit(x[:32], y[:32], batch_size=32, verbose=0)
    model.predict(x[:32], batch_size=32, verbose=0)
    stop = threading.Event()

    def train():
        try:
            for _ in range(3):
                model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        finally:
            stop.set()

    def serve():
        outs = []
        while not stop.is_set() or not outs:
            try:
                outs.append(model.predict(x[:32], batch_size=32, verbose=0))
            except Exception:
                stop.set()
                raise
        return outs

    results = _in_threads([train, serve, serve])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    for out in results[1] + results[2]:
        assert out.shape == (32, 2) and np.isfinite(out).all()
    np.testing.assert_allclose(model.predict(x[:32], verbose=0),
                               _numpy_forward(model, x[:32]), rtol=1e-5, atol=1e-5)


def test_two_threads_training_one_model_is_an_error():
    rng = np.random.default_rng(2)
    model = _model()
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    inside, release = threading.Event(), threading.Event()

    class Hold(kerax.callbacks.Callback):
        def on_train_begin(self, logs=None):
            inside.set()
            release.wait(60)

    thread = threading.Thread(target=lambda: model.fit(x, y, verbose=0, callbacks=[Hold()]))
    thread.start()
    try:
        assert inside.wait(60)
        with pytest.raises(RuntimeError, match="another thread"):
            model.fit(x, y, verbose=0)
        with pytest.raises(RuntimeError, match="another thread"):
            model.train_on_batch(x, y)
        # inference is still fine meanwhile
        np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_forward(model, x),
                                   rtol=1e-5, atol=1e-5)
    finally:
        release.set()
        thread.join(60)
    model.fit(x, y, verbose=0)  # and training works again once the other is done
