"""Hostile `.keras` archives and weights files (issue 12, item 2): members
that declare far more than they store are refused before a byte of them is
inflated, as Keras 3 does; HDF5 datasets likewise. Every file is crafted
here and stays small on disk."""
import io
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import h5py
import numpy as np
import pytest

import kerax
from kerax import layers as L
from kerax.saving import keras_file

MiB = 1 << 20


def deflated_zeros(n_mib):
    """A raw DEFLATE stream of `n_mib` MiB of zeros, built from one
    compressed block repeated (a full flush resets the compressor, so every
    block compresses to the same bytes): about 1 KiB per MiB declared."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MiB)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + c.flush()


def write_raw_zip(path, members):
    """A zip archive from `(name, method, stored bytes, declared size, crc)`
    entries, written by hand so a member can carry a precompressed stream
    (declared sizes of 4 GiB and more get Zip64 extra fields)."""
    with open(path, "wb") as f:
        central = []
        for name, method, data, size, crc in members:
            offset = f.tell()
            raw = name.encode()
            big = size >= 0xFFFFFFFF
            extra = struct.pack("<2H2Q", 1, 16, size, len(data)) if big else b""
            sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(data), size)
            version = 45 if big else 20
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", version, 0, method, 0, 0, crc,
                                *sizes, len(raw), len(extra)) + raw + extra)
            f.write(data)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", version, version, 0,
                                       method, 0, 0, crc, *sizes, len(raw), len(extra), 0,
                                       0, 0, 0, offset) + raw + extra)
        start = f.tell()
        for entry in central:
            f.write(entry)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                            f.tell() - start, start, 0))
    return path


def stored(name, data):
    return (name, zipfile.ZIP_STORED, data, len(data), zlib.crc32(data))


def small_model():
    return kerax.Sequential([kerax.Input((3,)), L.Dense(2)])


def members_of(model, tmp_path):
    path = tmp_path / "good.keras"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def bomb_archive(tmp_path, target, n_mib, name="bomb.keras"):
    """The members of a good `.keras` file, with `target` replaced by (or,
    when new, added as) a deflated member declaring `n_mib` MiB. Its CRC is
    left 0: a reader must refuse the member before inflating any of it."""
    good = members_of(small_model(), tmp_path)
    entries = [stored(n, d) for n, d in good.items() if n != target]
    entries.append((target, zipfile.ZIP_DEFLATED, deflated_zeros(n_mib), n_mib * MiB, 0))
    return write_raw_zip(tmp_path / name, entries)


CHILD = textwrap.dedent("""
    import resource, sys
    import kerax
    path = sys.argv[1]
    for load in (lambda: kerax.models.load_model(path),
                 lambda: kerax.Sequential([kerax.Input((3,)), kerax.layers.Dense(2)])
                 .load_weights(path)):
        try:
            load()
            print("LOADED")
        except ValueError as e:
            print("REFUSED", str(e).replace("\\n", " "))
    # VmHWM: this process image's own peak. (ru_maxrss would also count the
    # pytest parent's RSS, which Linux carries over fork + exec.)
    try:
        with open("/proc/self/status") as f:
            hwm = [l for l in f if l.startswith("VmHWM:")][0].split()[1]
        print("PEAK_MB", int(hwm) / 1024)
    except (OSError, IndexError):
        print("PEAK_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""")


def test_weights_member_declaring_2_gib_is_refused_before_inflating(tmp_path):
    path = bomb_archive(tmp_path, "model.weights.h5", 2048)
    assert os.path.getsize(path) < 4 * MiB
    # In a subprocess, so the peak memory of the attempt can be measured (and a
    # regression that inflates the member cannot exhaust the test runner).
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    refused = [line for line in lines if line.startswith("REFUSED")]
    assert len(refused) == 2, proc.stdout
    for line in refused:
        assert "model.weights.h5" in line and "decompression bomb" in line, line
        assert "2.00 GiB" in line and "MAX_EXPANSION" in line, line
    peak = float(lines[-1].split()[1])
    assert peak < 900, f"peak RSS {peak:.0f} MB while refusing a 2 GiB member"


@pytest.mark.parametrize("target", ["config.json", "metadata.json", "assets/vocab.txt"])
def test_other_members_declaring_too_much_are_refused(tmp_path, target):
    path = bomb_archive(tmp_path, target, 300)
    with pytest.raises(ValueError, match=f"{target}.*decompression bomb"):
        kerax.models.load_model(path)


def test_the_limit_can_be_raised_for_a_trusted_file(tmp_path, monkeypatch):
    # A genuine member past the floor and the ratio (zeros deflate ~1000:1).
    model = small_model()
    good = members_of(model, tmp_path)
    monkeypatch.setattr(keras_file, "BOMB_FLOOR_BYTES", 1024)
    monkeypatch.setattr(keras_file, "MAX_EXPANSION", 2)
    padding = bytes(64 * 1024)
    path = tmp_path / "trusted.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in good.items():
            zf.writestr(n, d)
        zf.writestr("assets/zeros.bin", padding, compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match="assets/zeros.bin.*decompression bomb"):
        kerax.models.load_model(path)
    monkeypatch.setattr(keras_file, "MAX_EXPANSION", 2000)
    loaded = kerax.models.load_model(path)
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(),
                                  model.layers[0].kernel.numpy())


@pytest.mark.parametrize("spool", [False, True])
def test_a_recompressed_keras_file_still_loads(tmp_path, monkeypatch, spool):
    """A `.keras` file re-zipped with DEFLATE (by a user's tool) is genuine:
    it loads, from memory or (when large) from an anonymous temporary file."""
    if spool:
        monkeypatch.setattr(keras_file, "SPOOL_BYTES", 0)
    model = small_model()
    good = members_of(model, tmp_path)
    path = tmp_path / "deflated.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, d in good.items():
            zf.writestr(n, d)
    before = sorted(os.listdir(tmp_path))
    loaded = kerax.models.load_model(path)
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(),
                                  model.layers[0].kernel.numpy())
    other = small_model()
    other.load_weights(path)
    np.testing.assert_array_equal(other.layers[0].bias.numpy(), model.layers[0].bias.numpy())
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted next to the file


def test_stored_weights_are_crc_checked(tmp_path):
    model = small_model()
    model.layers[0].kernel.assign(np.full((3, 2), 7.0, "float32"))
    good = members_of(model, tmp_path)
    weights = bytearray(good["model.weights.h5"])
    at = bytes(weights).find(np.full(6, 7.0, "float32").tobytes())
    assert at > 0
    weights[at] ^= 0xFF  # one flipped byte inside the kernel's data
    entries = [stored(n, d) for n, d in good.items() if n != "model.weights.h5"]
    entries.append(("model.weights.h5", zipfile.ZIP_STORED, bytes(weights), len(weights),
                    zlib.crc32(good["model.weights.h5"])))
    path = write_raw_zip(tmp_path / "flipped.keras", entries)
    with pytest.raises(ValueError, match="CRC"):
        kerax.models.load_model(path)


@pytest.mark.parametrize("kind", ["encrypted", "past_end", "stored_size"])
def test_members_with_impossible_headers_are_refused(tmp_path, kind):
    good = members_of(small_model(), tmp_path)
    path = tmp_path / f"{kind}.keras"
    entries = [stored(n, d) for n, d in good.items()]
    name, method, data, size, crc = entries[-1]
    if kind == "stored_size":
        entries[-1] = (name, method, data, size + 10 * MiB, crc)
    write_raw_zip(path, entries)
    raw = bytearray(path.read_bytes())
    if kind == "encrypted":  # set bit 0 of the general-purpose flags everywhere
        for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = raw.find(sig)
            while i >= 0:
                raw[i + at] |= 1
                i = raw.find(sig, i + 1)
    elif kind == "past_end":  # a central directory entry claiming 1 GiB stored
        i = raw.rfind(b"PK\x01\x02")
        raw[i + 20:i + 28] = struct.pack("<2L", 1 << 30, 1 << 30)
    path.write_bytes(bytes(raw))
    match = {"encrypted": "encrypted", "past_end": "past the end",
             "stored_size": "stored uncompressed but declares"}[kind]
    with pytest.raises(ValueError, match=match):
        kerax.models.load_model(path)


class OwnStore(L.Layer):
    """A layer that loads through Keras' `load_own_variables(store)` hook."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(2,), initializer="zeros")

    def call(self, x):
        return x + self.w

    def load_own_variables(self, store):
        self.w.assign(store["0"][:2])


def test_hdf5_dataset_declaring_10_to_12_elements_is_refused_before_reading(tmp_path):
    model = kerax.Sequential([kerax.Input((2,)), OwnStore()])
    path = tmp_path / "shape_bomb.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_group("vars")
        g = f.create_group("layers/own_store/vars")
        # 10**12 float32 declared (4 TB), chunked and never written: tiny on disk
        g.create_dataset("0", shape=(10**12,), dtype="float32", chunks=(1 << 16,))
    assert os.path.getsize(path) < MiB
    with pytest.raises(ValueError, match="layers/own_store/vars/0.*shape bomb"):
        model.load_weights(path)
    # inside a `.keras` archive too
    keras_path = tmp_path / "shape_bomb.keras"
    good = members_of(model, tmp_path)
    with zipfile.ZipFile(keras_path, "w") as zf:
        zf.writestr("config.json", good["config.json"])
        zf.writestr("metadata.json", good["metadata.json"])
        zf.writestr("model.weights.h5", path.read_bytes())
    with pytest.raises(ValueError, match="shape bomb"):
        kerax.models.load_model(keras_path, custom_objects={"OwnStore": OwnStore})


def test_truncated_hdf5_dataset_is_a_clear_error(tmp_path):
    model = small_model()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")
        g = f.create_group("layers/dense/vars")
        g["0"] = np.ones((3, 2), "float32")
        g["1"] = np.ones(2, "float32")
    data = buf.getvalue()
    at = data.find(np.ones(6, "float32").tobytes())
    path = tmp_path / "cut.weights.h5"
    path.write_bytes(data[:at + 4])  # the file ends inside the kernel's data
    with pytest.raises(ValueError, match="cut.weights.h5|truncated|corrupt|HDF5"):
        model.load_weights(path)


def test_keras_refuses_the_same_bomb(tmp_path):
    """The reference: Keras 3 refuses a weights member declaring more than
    its 4 GiB floor at 100x its stored size, before inflating it."""
    import keras
    path = bomb_archive(tmp_path, "model.weights.h5", 4097)
    with pytest.raises(ValueError, match="decompression bomb"):
        keras.saving.load_model(path)
    with pytest.raises(ValueError, match="decompression bomb"):
        kerax.models.load_model(path)
