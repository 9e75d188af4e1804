"""The main job: train the TensorFlow chapter's hello-world Sequential model on
the 8x8 handwritten digits shipped with kerax, report test accuracy, save the
model, reload it and check the reloaded model predicts the same."""
import os
import time

import jax
import numpy as np

import kerax


def build_model():
    """Flatten -> Dense(128, relu) -> Dropout(0.2) -> Dense(10, softmax)."""
    return kerax.Sequential([
        kerax.layers.Flatten(input_shape=(8, 8)),
        kerax.layers.Dense(128, activation="relu"),
        kerax.layers.Dropout(0.2),
        kerax.layers.Dense(10, activation="softmax"),
    ])


def run(epochs=10, batch_size=32, output="kerax_demo.keras", seed=42, verbose=1):
    print(f"kerax {kerax.__version__} on JAX {jax.__version__}, devices: {jax.devices()}")
    kerax.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = kerax.datasets.load_digits()
    labels = np.eye(10, dtype=np.float32)
    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels")
    model = build_model()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    t0 = time.perf_counter()
    model.fit(x_train, labels[y_train], batch_size=batch_size, epochs=epochs,
              validation_split=0.1, verbose=verbose)
    print(f"trained in {time.perf_counter() - t0:.1f} s")
    loss, accuracy = model.evaluate(x_test, labels[y_test], verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {accuracy:.2%} (chance: 10%)")

    output = os.path.abspath(output)
    model.save(output)
    print(f"saved to {output} ({os.path.getsize(output):,} bytes)")
    reloaded = kerax.models.load_model(output)
    before = model.predict(x_test, verbose=0)
    after = reloaded.predict(x_test, verbose=0)
    same = np.allclose(before, after, atol=1e-6)
    print(f"reloaded model predicts the same: {same} "
          f"(max difference {np.max(np.abs(before - after)):.2e})")
    ok = same and accuracy > 0.9
    if not ok:
        print("demo FAILED: expected test accuracy above 90% and identical reloaded predictions")
    return 0 if ok else 1
