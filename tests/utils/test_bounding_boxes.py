"""kerax.utils.bounding_boxes against keras.utils.bounding_boxes on random boxes."""
import numpy as np
import pytest

from kerax.layers.bounding_boxes import SUPPORTED_FORMATS
from kerax.utils import bounding_boxes as B

RNG = np.random.default_rng(0)
_XY = RNG.uniform(0, 20, (2, 5, 2))
BOXES = np.concatenate([_XY, _XY + RNG.uniform(1, 10, (2, 5, 2))], -1).astype("float32")
OTHER = BOXES[:, ::-1] + RNG.uniform(-3, 3, BOXES.shape).astype("float32")
SHAPE = (30, 40, 3)


def _close(a, b, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=1e-5)


def test_convert_format_every_pair(keras):
    K = keras.utils.bounding_boxes
    for source in SUPPORTED_FORMATS:
        for target in SUPPORTED_FORMATS:
            _close(B.convert_format(BOXES, source, target, height=30, width=40),
                   K.convert_format(BOXES, source, target, height=30, width=40))
    out = B.convert_format({"boxes": BOXES, "labels": np.zeros((2, 5))}, "xyxy", "rel_xywh",
                           30, 40)
    assert set(out) == {"boxes", "labels"}
    with pytest.raises(ValueError, match="height"):
        B.convert_format(BOXES, "xyxy", "rel_xyxy")
    with pytest.raises(ValueError, match="target"):
        B.convert_format(BOXES, "xyxy", "xyz")
    with pytest.raises(ValueError, match="last dimension of 4"):
        B.convert_format(BOXES[..., :3], "xyxy", "yxyx")


@pytest.mark.parametrize("fmt", ["xyxy", "center_yxhw", "rel_xywh"])
def test_iou_batched_unbatched_and_masked(keras, fmt):
    K = keras.utils.bounding_boxes
    for a, b in [(BOXES, OTHER), (BOXES[0], OTHER[0]), (BOXES, OTHER[0])]:
        _close(B.compute_iou(a, b, fmt, image_shape=SHAPE),
               K.compute_iou(a, b, fmt, image_shape=SHAPE))
    padded = BOXES.copy()
    padded[0, 1] = -1.0
    _close(B.compute_iou(padded, OTHER, fmt, use_masking=True, mask_val=-2, image_shape=SHAPE),
           K.compute_iou(padded, OTHER, fmt, use_masking=True, mask_val=-2, image_shape=SHAPE))


def test_ciou_clip_crop_pad(keras):
    K = keras.utils.bounding_boxes
    for fmt in ("xyxy", "center_xywh"):
        _close(B.compute_ciou(BOXES, OTHER, fmt), K.compute_ciou(BOXES, OTHER, fmt))
    labels = np.arange(10, dtype="int32").reshape(2, 5)
    for fmt, h, w, shift in (("xyxy", 10, 12, 5.0), ("rel_xyxy", None, None, 0.1)):
        boxes = BOXES / (40.0 if fmt == "rel_xyxy" else 1.0) - shift
        got = B.clip_to_image_size({"boxes": boxes, "labels": labels}, h, w, fmt)
        want = K.clip_to_image_size({"boxes": boxes, "labels": labels}, h, w, fmt)
        _close(got["boxes"], want["boxes"])
        np.testing.assert_array_equal(np.asarray(got["labels"]), np.asarray(want["labels"]))
    _close(B.crop(BOXES, 3, 4, 10, 12), K.crop(BOXES, 3, 4, 10, 12))
    _close(B.pad(BOXES, 3, 4), K.pad(BOXES, 3, 4))
    with pytest.raises(NotImplementedError, match="xyxy"):
        B.crop(BOXES, 3, 4, 10, 12, bounding_box_format="yxyx")


def test_affine_transform(keras):
    K = keras.utils.bounding_boxes
    r = np.random.default_rng(1)
    args = [r.uniform(-30, 30, 2), r.uniform(-.2, .2, 2), r.uniform(-.2, .2, 2),
            r.uniform(.8, 1.2, 2), r.uniform(-10, 10, 2), r.uniform(-10, 10, 2)]
    args = [a.astype("float32") for a in args]
    _close(B.affine_transform(BOXES, *args, 30, 40), K.affine_transform(BOXES, *args, 30, 40),
           atol=1e-3)
    _close(B.affine_transform(BOXES, *args, 30, 40, center_x=0.2, center_y=0.7),
           K.affine_transform(BOXES, *args, 30, 40, center_x=0.2, center_y=0.7), atol=1e-3)


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
def test_encode_decode_deltas(keras, encoding):
    K = keras.utils.bounding_boxes
    anchors, boxes = BOXES[0], OTHER[0]
    for variance in (None, [0.1, 0.1, 0.2, 0.2]):
        deltas = K.encode_box_to_deltas(anchors, boxes, "xyxy", "rel_xyxy", encoding, variance,
                                        image_shape=SHAPE)
        _close(B.encode_box_to_deltas(anchors, boxes, "xyxy", "rel_xyxy", encoding, variance,
                                      image_shape=SHAPE), deltas)
        deltas = np.asarray(deltas)
        got = B.decode_deltas_to_boxes({"p3": anchors}, {"p3": deltas}, "xyxy", "xywh",
                                       encoding, variance)
        _close(got["p3"], K.decode_deltas_to_boxes({"p3": anchors}, {"p3": deltas}, "xyxy",
                                                   "xywh", encoding, variance)["p3"],
               atol=1e-4)
    with pytest.raises(ValueError, match="encoding_format"):
        B.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", "xyxy")
