"""Child process of test_crash_safety: saves a small model over and over
(`.keras` and `.weights.h5`), each time with its bias set to the save number,
until it is killed."""


def save_forever(conn, path, weights_path):
    import numpy as np

    import kerax
    model = kerax.Sequential([kerax.Input((4,)), kerax.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    i = 0
    while True:
        i += 1
        model.layers[0].bias.assign(np.full((3,), float(i), "float32"))
        model.save(path)
        model.save_weights(weights_path)
        if i == 1:  # one complete save is on disk: the parent may kill us from now on
            conn.send("ready")
