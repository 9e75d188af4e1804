"""kerax.utils.plot_model / model_to_dot (pydot + Graphviz optional)."""
import builtins
import shutil

import pytest

import kerax
from kerax.utils import model_to_dot, plot_model


def _two_input_model():
    a = kerax.Input((3,), name="a")
    b = kerax.Input((4,), name="b")
    x = kerax.layers.Concatenate()([kerax.layers.Dense(2, activation="relu")(a), b])
    return kerax.Model([a, b], kerax.layers.Dense(1)(x))


def _need_pydot_and_dot():
    try:
        import pydot  # noqa: F401
    except ImportError:
        pytest.skip("pydot not installed (pip install pydot)")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` binary not installed")


def test_plot_two_input_model_png(tmp_path):
    _need_pydot_and_dot()
    model = _two_input_model()
    out = tmp_path / "model.png"
    plot_model(model, to_file=str(out), show_shapes=True, show_dtype=True,
               show_layer_names=True, show_layer_activations=True, show_trainable=True)
    data = out.read_bytes()
    assert len(data) > 0 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_to_dot_graph():
    _need_pydot_and_dot()
    model = _two_input_model()
    dot = model_to_dot(model, show_shapes=True)
    nodes = [n for n in dot.get_nodes() if n.get_name() not in ("node", "edge", "graph")]
    assert len(nodes) == len(model.layers)
    names = {n.get_name(): n.get("label") for n in nodes}
    edges = {(names[e.get_source()].split("\\n")[0].strip('"'),
              names[e.get_destination()].split("\\n")[0].strip('"'))
             for e in dot.get_edges()}
    assert any(s == "a (InputLayer)" and d.startswith("dense") for s, d in edges)
    assert sum(1 for _, d in edges if d.startswith("concatenate")) == 2
    assert len(edges) == 4
    seq = kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2), kerax.layers.Dense(1)])
    assert len(model_to_dot(seq).get_edges()) == len(seq.layers) - 1
    outer_in = kerax.Input((3,))
    nested = kerax.Model(outer_in, seq(outer_in))
    sub = model_to_dot(nested, expand_nested=True)
    assert len(sub.get_subgraphs()) == 1
    with pytest.raises(ValueError, match="layer_range"):
        plot_model(model, layer_range=["a", "b"])


def test_missing_pydot_message(monkeypatch, tmp_path):
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "pydot" or name.startswith("pydot."):
            raise ImportError("No module named 'pydot'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    model = _two_input_model()
    with pytest.raises(ImportError, match="pip install pydot") as e:
        plot_model(model, to_file=str(tmp_path / "m.png"))
    assert "Graphviz" in str(e.value)
    with pytest.raises(ImportError, match="pydot"):
        model_to_dot(model)
