"""draw_bounding_boxes (with OpenCV, as Keras) and draw_segmentation_masks (NumPy)."""
import numpy as np

from kerax import config
from kerax.layers.bounding_boxes import convert_format


def _batched(images, where):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{where}: `images` must be a batch of images (rank 4), got shape "
                         f"{images.shape}.")
    return images


def _text_origin(x, y, font_scale, thickness):
    """Above the box when there is room, else just inside its top-left corner."""
    font_height = int(font_scale * 12)
    if y - 8 - 2 * font_height > 0:
        return x, y - 8
    return x + 3, y + 2 * font_height + thickness + 3


def draw_bounding_boxes(images, bounding_boxes, bounding_box_format, class_mapping=None,
                        color=(128, 128, 128), line_thickness=2, text_thickness=1,
                        font_scale=1.0, data_format=None):
    """Draw each box of a {"boxes", "labels"[, "confidences"]} dict on its
    image (label -1 = no box) with its class name from `class_mapping`.
    Returns uint8 channels-last images; float images in [0, 1] are scaled
    to [0, 255]. Needs OpenCV (`pip install opencv-python-headless`).

    >>> out = draw_bounding_boxes(np.zeros((1, 8, 8, 3), "uint8"),
    ...     {"boxes": np.array([[[1, 1, 6, 6]]]), "labels": np.array([[0]])}, "xyxy")
    >>> out.shape, int(out[0, 1, 3, 0])
    ((1, 8, 8, 3), 128)
    """
    try:
        import cv2
    except ImportError as e:
        raise ImportError("draw_bounding_boxes needs OpenCV (the `cv2` module), as Keras' "
                          "does: `pip install opencv-python-headless`.") from e
    where = "draw_bounding_boxes"
    class_mapping = class_mapping or {}
    text_thickness = text_thickness or line_thickness
    data_format = data_format or config.image_data_format()
    images = _batched(images, where)
    if not isinstance(bounding_boxes, dict):
        raise TypeError(f"{where}: `bounding_boxes` must be a dict, got "
                        f"{type(bounding_boxes).__name__}.")
    if "boxes" not in bounding_boxes or "labels" not in bounding_boxes:
        raise ValueError(f"{where}: `bounding_boxes` must have 'boxes' and 'labels' entries, "
                         f"got keys {sorted(bounding_boxes)}.")
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
    height, width = images.shape[1], images.shape[2]
    boxes = np.asarray(convert_format(bounding_boxes["boxes"], bounding_box_format, "xyxy",
                                      height, width))
    labels = np.asarray(bounding_boxes["labels"])
    confidences = bounding_boxes.get("confidences")
    confidences = None if confidences is None else np.asarray(confidences)
    if images.dtype.kind == "f" and images.size > 0:
        images = np.clip(images, 0, 1) * 255 if images.max() <= 1.0 else \
            np.clip(images, 0, 255)
    images = np.ascontiguousarray(images.astype("uint8"))
    for i in range(images.shape[0]):
        image = images[i]
        for j in range(boxes.shape[1]):
            c = int(labels[i][j])
            if c == -1:
                continue
            x1, y1, x2, y2 = (int(v) for v in boxes[i][j].astype("int32"))
            cv2.rectangle(image, (x1, y1), (x2, y2), color, line_thickness)
            if c in class_mapping:
                text = class_mapping[c]
                if confidences is not None:
                    text = f"{text} | {confidences[i][j]:.2f}"
                cv2.putText(img=image, text=text,
                            org=_text_origin(x1, y1, font_scale, text_thickness),
                            fontFace=cv2.FONT_HERSHEY_SIMPLEX, fontScale=font_scale,
                            color=color, thickness=text_thickness)
    return images


def _palette(num_classes):
    base = np.array([2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1])
    return [(i * base % 255).tolist() for i in range(num_classes)]


def draw_segmentation_masks(images, segmentation_masks, num_classes=None, color_mapping=None,
                            alpha=0.8, blend=True, ignore_index=-1, data_format=None):
    """Colour each pixel by its class in integer `segmentation_masks`
    (batch, h, w, 1): class i gets `color_mapping[i]` (default: Keras'
    palette); with `blend`, mixed as (1 - alpha) * image + alpha * colour
    (uint8; `ignore_index` pixels keep the image), else the coloured images
    (float32). Without `num_classes`, classes 0..max(mask) are drawn (Keras
    3.15 takes max(mask) classes and so leaves the largest class uncoloured).

    >>> draw_segmentation_masks(np.zeros((1, 2, 2, 3)), np.ones((1, 2, 2, 1), "int32"),
    ...                         color_mapping={0: (0, 0, 0), 1: (100, 0, 0)})[0, 0, 0].tolist()
    [80, 0, 0]
    """
    where = "draw_segmentation_masks"
    data_format = data_format or config.image_data_format()
    images = _batched(images, where).astype("float32")
    masks = np.asarray(segmentation_masks)
    if data_format == "channels_first":
        images = images.transpose(0, 2, 3, 1)
        masks = masks.transpose(0, 2, 3, 1)
    if masks.dtype.kind not in "iu":
        raise TypeError(f"{where}: `segmentation_masks` must have an integer dtype, got "
                        f"{masks.dtype}.")
    if masks.ndim != 4 or masks.shape[-1] != 1:
        raise ValueError(f"{where}: `segmentation_masks` must have shape (batch, height, "
                         f"width, 1), got {masks.shape}.")
    if num_classes is None:
        num_classes = int(masks.max()) + 1
    colors = _palette(num_classes) if color_mapping is None else \
        [color_mapping[i] for i in range(num_classes)]
    classes = masks[..., 0]
    drawn = images.copy()
    for i, color in enumerate(colors):
        drawn[classes == i] = np.asarray(color, "float32")
    if not blend:
        return drawn
    out = images * (1 - alpha) + drawn * alpha
    out = np.where((classes != ignore_index)[..., None], out, images)
    return out.astype("uint8")
