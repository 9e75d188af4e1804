"""RemoteMonitor against an HTTP server on 127.0.0.1 that the test starts:
kerax's requests (urllib) carry the payload Keras 3's (requests) carry."""
import http.server
import json
import socket
import threading
import urllib.parse

import numpy as np
import pytest

import kerax


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server hook name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append({"path": self.path, "body": body,
                                 "type": self.headers.get("Content-Type"),
                                 "token": self.headers.get("X-Token")})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _payload(request, field="data"):
    if request["type"] == "application/json":
        return json.loads(request["body"])
    form = urllib.parse.parse_qs(request["body"].decode("ascii"))
    return json.loads(form[field][0])


_LOGS = {"loss": np.float32(0.25), "acc": np.array(0.5), "lr": 0.01, "steps": 7}


@pytest.mark.parametrize("kwargs", [
    {}, {"send_as_json": True, "headers": {"X-Token": "t1"}},
    {"path": "/other/", "field": "payload", "headers": {"X-Token": "t2"}},
])
def test_payload_matches_keras(server, keras, kwargs):
    pytest.importorskip("requests")
    root = f"http://127.0.0.1:{server.server_port}"
    got = []
    for lib in (kerax, keras):
        server.seen.clear()
        lib.callbacks.RemoteMonitor(root=root, **kwargs).on_epoch_end(3, dict(_LOGS))
        (request,) = server.seen
        got.append(request)
    ours, theirs = got
    assert ours["path"] == theirs["path"] == kwargs.get("path", "/publish/epoch/end/")
    assert ours["type"] == theirs["type"]
    assert ours["token"] == theirs["token"]
    field = kwargs.get("field", "data")
    assert _payload(ours, field) == _payload(theirs, field) == {
        "epoch": 3, "loss": 0.25, "acc": 0.5, "lr": 0.01, "steps": 7}


def test_posts_each_epoch_of_fit(server):
    server.seen.clear()
    model = kerax.Sequential([kerax.Input((2,)), kerax.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y), callbacks=[
        kerax.callbacks.RemoteMonitor(root=f"http://127.0.0.1:{server.server_port}",
                                      send_as_json=True)]).history
    sent = [_payload(r) for r in server.seen]
    assert [s["epoch"] for s in sent] == [0, 1]
    for epoch, s in enumerate(sent):
        assert set(s) == {"epoch"} | set(history)
        for k in history:
            assert s[k] == pytest.approx(history[k][epoch])


def test_unreachable_server_and_nan_warn(server):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monitor = kerax.callbacks.RemoteMonitor(root=f"http://127.0.0.1:{port}")
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server"):
        monitor.on_epoch_end(0, {"loss": 1.0})
    server.seen.clear()
    with pytest.warns(UserWarning, match="Could not reach"):  # NaN is not valid JSON
        kerax.callbacks.RemoteMonitor(root=f"http://127.0.0.1:{server.server_port}",
                                      send_as_json=True).on_epoch_end(0, {"loss": float("nan")})
    assert server.seen == []  # as requests: nothing is sent
