"""`Model.summary` against Keras 3's: the same rows (layer_range, nested rows
with expand_nested), the same columns (Trainable with show_trainable,
Connected to only for non-chain functional graphs) and the same totals."""
import re

import numpy as np
import pytest

import kerax


def _build(lib, which):
    L = lib.layers
    if which == "nested":
        inner = lib.Sequential([lib.Input((4,)), L.Dense(3, name="inner_dense"),
                                L.BatchNormalization(name="inner_bn")], name="block")
        inner.layers[0].trainable = False
        inp = lib.Input((4,), name="x")
        h = L.Dense(4, name="d1")(inp)
        h = inner(h)
        h = L.Dropout(0.1, name="drop")(h)
        return lib.Model(inp, L.Dense(1, name="out")(h), name="outer")
    if which == "two":
        a = lib.Input((2,), name="a"); b = lib.Input((2,), name="b")
        return lib.Model([a, b], L.Dense(1, name="o")(L.Concatenate(name="cat")([a, b])), name="two")
    if which == "nested_functional":
        i = lib.Input((3,), name="ii")
        inner = lib.Model(i, L.Dense(2, name="id")(i), name="inner_f")
        a = lib.Input((3,), name="a"); b = lib.Input((3,), name="b")
        s = L.Dense(3, name="shared")
        h = L.Add(name="add")([s(a), s(b)])
        return lib.Model([a, b], inner(h), name="nf")
    if which == "seq_unbuilt":
        return lib.Sequential([L.Dense(2, name="a1"), L.Dense(3, name="a2")], name="su")
    if which == "subclassed":
        class Sub(lib.Model):
            def __init__(self):
                super().__init__(name="sub")
                self.d1 = L.Dense(4, name="s1")
                self.bn = L.BatchNormalization(name="sbn")
                self.d2 = L.Dense(1, name="s2")
            def call(self, x):
                return self.d2(self.bn(self.d1(x)))
        import numpy as np
        m = Sub(); m(np.ones((2, 3), "float32")); m.bn.trainable = False
        return m


def _table(lines):
    """[header, rows...] of a printed summary: cells stripped, wrapped cells joined."""
    rows, current = [], None
    for line in "\n".join(lines).splitlines():
        if line[:1] in "┏┡├└":
            if current:
                rows.append([" ".join(p for p in c if p) for c in current])
            current = None
        elif line[:1] in "│┃":
            cells = [c.strip() for c in re.split("[│┃]", line)[1:-1]]
            current = [[c] for c in cells] if current is None else [
                prev + [c] for prev, c in zip(current, cells)]
    totals = [l.strip() for l in "\n".join(lines).splitlines() if "params:" in l]
    return rows, totals


def _summary(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return _table(lines)


MODELS = ["nested", "two", "nested_functional", "seq_unbuilt", "subclassed"]
RANGES = {"nested": ("d1", "drop"), "two": ("b", "cat"), "nested_functional": ("b|shared", "add"),
          "seq_unbuilt": ("a2", "a2"), "subclassed": ("sbn", "s1")}


@pytest.mark.parametrize("which", MODELS)
def test_summary_rows_columns_and_totals_equal_keras(keras, monkeypatch, which):
    monkeypatch.setenv("COLUMNS", "300")    # rich (Keras) crops to the terminal width
    k, kx = _build(keras, which), _build(kerax, which)
    for kwargs in [{}, {"show_trainable": True}, {"expand_nested": True},
                   {"show_trainable": True, "expand_nested": True},
                   {"layer_range": RANGES[which]},
                   {"layer_range": RANGES[which], "expand_nested": True,
                    "show_trainable": True}]:
        got = _summary(kx, line_length=200, **kwargs)
        want = _summary(k, line_length=200, **kwargs)
        assert got == want, (which, kwargs)


def test_summary_columns_and_rows_in_detail():
    model = _build(kerax, "nested")
    rows, _ = _summary(model, show_trainable=True, expand_nested=True)
    assert rows[0] == ["Layer (type)", "Output Shape", "Param #", "Trainable"]
    assert [r[0] for r in rows[1:]] == [
        "x (InputLayer)", "d1 (Dense)", "block (Sequential)", "└ inner_dense (Dense)",
        "└ inner_bn (BatchNormalization)", "drop (Dropout)", "out (Dense)"]
    assert [r[3] for r in rows[1:]] == ["-", "Y", "Y", "N", "Y", "-", "Y"]
    rows, _ = _summary(model, layer_range=["d.*", "block"])
    assert [r[0] for r in rows[1:]] == ["d1 (Dense)", "block (Sequential)"]
    # a chain graph has no Connected to column; two inputs do
    assert "Connected to" not in _summary(model)[0][0]
    assert _summary(_build(kerax, "two"))[0][0][3] == "Connected to"


def test_layer_range_errors_as_keras(keras):
    for bad in [["d1"], [1, 2], ["nope", "out"]]:
        with pytest.raises(ValueError) as k_err:
            _build(keras, "nested").summary(layer_range=bad, print_fn=lambda *a, **k: None)
        with pytest.raises(ValueError) as x_err:
            _build(kerax, "nested").summary(layer_range=bad, print_fn=lambda *a: None)
        assert str(x_err.value) == str(k_err.value)


def test_optimizer_params_line_after_fit(keras):
    x = [np.ones((4, 2), np.float32), np.ones((4, 2), np.float32)]
    y = np.ones((4, 1), np.float32)
    totals = []
    for lib in (keras, kerax):
        m = _build(lib, "two")
        m.compile(optimizer="adam", loss="mse")
        m.fit(x, y, verbose=0)
        totals.append(_summary(m)[1])
        if lib is kerax:
            opt = sum(int(np.prod(v.shape)) for v in m.optimizer.variables)
    (k_total, k_tr, k_ntr, k_opt), (x_total, x_tr, x_ntr, x_opt) = totals
    assert (x_tr, x_ntr) == (k_tr, k_ntr)
    assert k_opt.startswith("Optimizer params:")
    assert x_opt.startswith(f"Optimizer params: {opt:,} ")
    count = [int(re.search(r": ([\d,]+)", t).group(1).replace(",", "")) for t in totals[1]]
    assert count[0] == count[1] + count[2] + count[3]


def test_line_length_and_positions_fix_the_width():
    model = _build(kerax, "nested")
    for kwargs in [{"line_length": 60}, {"line_length": 120, "show_trainable": True},
                   {"line_length": 80, "positions": [0.5, 0.75, 1.0]}]:
        lines = []
        model.summary(print_fn=lines.append, expand_nested=True, **kwargs)
        table = [l for l in lines if l[:1] in "┏┃┡│├└"]
        assert {len(l) for l in table} == {kwargs["line_length"]}, kwargs
        # wrapped cells read back as the wide table's
        assert _table(lines)[0][1:] == _summary(model, expand_nested=True,
                                                 show_trainable="show_trainable" in kwargs)[0][1:]
    with pytest.raises(ValueError, match="Insufficient console width"):
        model.summary(line_length=10, print_fn=lambda *a: None)
