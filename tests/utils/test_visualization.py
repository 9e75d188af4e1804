"""kerax.visualization: draw_* compared pixel for pixel with keras.visualization,
plot_* checked on matplotlib's Agg backend (figure and axes counts, files)."""
import numpy as np
import pytest

from kerax import visualization as V

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 255, (2, 40, 48, 3)).astype("uint8")
BOXES = {"boxes": np.array([[[2, 3, 20, 30], [10, 25, 40, 38]],
                            [[5, 5, 15, 12], [0, 0, 0, 0]]], "float32"),
         "labels": np.array([[0, 1], [2, -1]], "int32"),
         "confidences": np.array([[0.9, 0.4], [0.7, 0.0]], "float32")}
MASKS = RNG.integers(-1, 3, (2, 40, 48, 1)).astype("int32")


def test_draw_bounding_boxes_matches_keras(keras):
    pytest.importorskip("cv2")
    K = keras.visualization
    mapping = {0: "cat", 1: "dog"}
    for images, kw in [(IMAGES, {}),
                       (IMAGES.astype("float32") / 255.0, dict(color=(255, 0, 0),
                                                               line_thickness=1))]:
        got = V.draw_bounding_boxes(images, dict(BOXES), "xyxy", class_mapping=mapping, **kw)
        want = K.draw_bounding_boxes(images.copy(), dict(BOXES), "xyxy",
                                     class_mapping=mapping, **kw)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, np.asarray(want))
    # Keras 3.15 draws channels-first images without moving the channels (cv2 then
    # fails); kerax draws them as their channels-last twin.
    np.testing.assert_array_equal(
        V.draw_bounding_boxes(IMAGES.transpose(0, 3, 1, 2), dict(BOXES), "xyxy",
                              data_format="channels_first"),
        V.draw_bounding_boxes(IMAGES, dict(BOXES), "xyxy"))
    rel = {"boxes": BOXES["boxes"] / np.array([48, 40, 48, 40], "float32"),
           "labels": BOXES["labels"]}
    np.testing.assert_array_equal(V.draw_bounding_boxes(IMAGES, rel, "rel_xyxy"),
                                  np.asarray(K.draw_bounding_boxes(IMAGES.copy(), rel,
                                                                   "rel_xyxy")))
    with pytest.raises(ValueError, match="labels"):
        V.draw_bounding_boxes(IMAGES, {"boxes": BOXES["boxes"]}, "xyxy")
    with pytest.raises(ValueError, match="rank 4"):
        V.draw_bounding_boxes(IMAGES[0], dict(BOXES), "xyxy")


def test_draw_segmentation_masks_matches_keras(keras):
    K = keras.visualization
    colors = {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255)}
    for kw in [dict(num_classes=3), dict(num_classes=3, color_mapping=colors, alpha=0.4),
               dict(num_classes=3, blend=False), dict(num_classes=2, ignore_index=0)]:
        got = V.draw_segmentation_masks(IMAGES, MASKS, **kw)
        want = np.asarray(K.draw_segmentation_masks(IMAGES, MASKS, **kw))
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, atol=1e-4)
    cf = V.draw_segmentation_masks(IMAGES.transpose(0, 3, 1, 2), MASKS.transpose(0, 3, 1, 2),
                                   num_classes=3, data_format="channels_first")
    np.testing.assert_array_equal(cf, V.draw_segmentation_masks(IMAGES, MASKS, num_classes=3))
    # Without num_classes every class 0..max is coloured (closed form for class 2).
    out = V.draw_segmentation_masks(np.zeros((1, 2, 2, 3)), np.full((1, 2, 2, 1), 2, "int32"),
                                    color_mapping=colors)
    np.testing.assert_array_equal(out[0, 0, 0], [0, 0, int(255 * 0.8)])
    with pytest.raises(TypeError, match="integer"):
        V.draw_segmentation_masks(IMAGES, MASKS.astype("float32"))


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.close("all")
    yield plt
    plt.close("all")


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_plot_image_gallery(pyplot, tmp_path):
    images = RNG.uniform(0, 1, (5, 8, 8, 3)).astype("float32")
    V.plot_image_gallery(images, y_true=np.array([0, 1, 0, 1, 0]), label_map={0: "a", 1: "b"},
                         value_range=(0, 1), rows=2, cols=2, show=False)
    fig = pyplot.gcf()
    assert len(pyplot.get_fignums()) == 1 and len(fig.axes) == 4
    assert len(_image_axes(fig)) == 4
    assert fig.axes[1].get_title() == "Label: b"
    first = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(first, (images[0] * 255).astype("uint8"))
    path = tmp_path / "gallery.png"
    V.plot_image_gallery(images, path=path)
    assert path.stat().st_size > 0
    assert len(pyplot.get_fignums()) == 1   # the saved figure is closed
    with pytest.raises(ValueError, match="label_map"):
        V.plot_image_gallery(images, y_true=np.zeros(5), show=False)


def test_plot_bounding_box_and_segmentation_galleries(pyplot):
    pytest.importorskip("cv2")
    V.plot_bounding_box_gallery(IMAGES, "xyxy", y_true=dict(BOXES), y_pred=dict(BOXES),
                                class_mapping={0: "cat"}, legend=True, rows=1, cols=2,
                                show=False)
    fig = pyplot.gcf()
    assert len(_image_axes(fig)) == 2 and len(fig.legends) == 1
    pyplot.close("all")
    V.plot_segmentation_mask_gallery(IMAGES, num_classes=3, y_true=MASKS, y_pred=MASKS,
                                     show=False)
    fig = pyplot.gcf()
    assert len(_image_axes(fig)) == 6   # 2 rows: image, true masks, predicted masks
    drawn = np.asarray(fig.axes[1].images[0].get_array())
    np.testing.assert_array_equal(drawn, V.draw_segmentation_masks(IMAGES, MASKS,
                                                                   num_classes=3)[0])
