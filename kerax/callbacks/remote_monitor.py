"""`RemoteMonitor`: POST each epoch's logs to an HTTP server (Keras 3's
callback, on the standard library's urllib instead of `requests`)."""
import json
import warnings

import numpy as np

from kerax.callbacks.callback import Callback

__all__ = ["RemoteMonitor"]


def _plain(value):
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "item") and \
            getattr(value, "shape", None) == ():
        return value.item()
    return value


class RemoteMonitor(Callback):
    """Sends the epoch number and logs to `root + path` as an HTTP POST at
    each epoch's end (Keras 3's callback).

    The payload is Keras': `{"epoch": epoch, **logs}` encoded as JSON, sent as
    the form field `field` (`application/x-www-form-urlencoded`) or, with
    `send_as_json=True`, as the request body (`application/json`, NaN and
    infinities refused as `requests` does). `headers` are added to the
    request. A server that cannot be reached gives a warning, not an error.

    >>> monitor = RemoteMonitor(root="http://127.0.0.1:9000", send_as_json=True)
    >>> monitor.path
    '/publish/epoch/end/'
    """

    #: Seconds to wait for the server.
    timeout = 10

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json

    def _request(self, send):
        import urllib.parse  # on use: `import kerax` does not need urllib.request
        import urllib.request
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send, allow_nan=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return urllib.request.Request(self.root + self.path, data=body, headers=headers,
                                      method="POST")

    def on_epoch_end(self, epoch, logs=None):
        import urllib.error  # on use: `import kerax` does not need urllib.request
        import urllib.request
        send = {"epoch": epoch}
        for k, v in (logs or {}).items():
            send[k] = _plain(v)
        try:
            request = self._request(send)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError:
            pass  # the server answered (requests does not raise on an error status)
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}",
                          stacklevel=2)
