import io
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from holefill.evaluation.validation_sets import generated_validation_set, load_validation_set
from holefill.imaging import arrays
from holefill.imaging.folders import list_photos
from holefill.imaging.masks import read_mask
from holefill.masks.buckets import HOLE_RATIO_BUCKETS, bucket_of, hole_ratio
from holefill.masks.generator import MaskGenerator
from holefill.training.data import InpaintingDataset


def random_photo(rng, height, width):
    # Smooth gradients plus noise: random enough that crops differ, and JPEG-friendly.
    rows = np.linspace(0, 255, height)[:, None, None]
    columns = np.linspace(0, 255, width)[None, :, None]
    colour = rng.uniform(0.2, 1.0, size=3)
    photo = (rows * colour + columns * colour[::-1]) / 2 + rng.normal(0, 20, (height, width, 3))
    return np.clip(photo, 0, 255).astype(np.uint8)


@pytest.fixture
def photo_folder(tmp_path):
    """Seven readable photos in three formats (one in a sub-folder), one broken, one text."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    sizes = [(80, 100), (100, 80), (64, 64), (120, 90), (70, 150), (90, 90)]
    for index, (height, width) in enumerate(sizes):
        extension = ["jpg", "png", "webp"][index % 3]
        Image.fromarray(random_photo(rng, height, width)).save(folder / f"{index}.{extension}")
    Image.fromarray(random_photo(rng, 40, 48)).save(folder / "nested" / "small.JPEG")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def make_dataset(folder, **kwargs):
    arguments = {"image_size": 48, "batch_size": 3, "seed": 0, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return InpaintingDataset(folder, **arguments)


def test_list_photos(photo_folder):
    names = [path.name for path in list_photos(photo_folder)]
    assert names == [*sorted(names[:-1]), "small.JPEG"]
    assert len(names) == 8  # the broken JPEG counts: listing does not decode
    assert "small.JPEG" not in [p.name for p in list_photos(photo_folder, recursive=False)]


def test_batches_have_the_expected_shapes_and_ranges(photo_folder):
    dataset = make_dataset(photo_folder)
    assert len(dataset) == 7 // 3
    inputs, targets = dataset[0]
    assert set(inputs) == {"image", "mask"}
    assert inputs["image"].shape == targets.shape == (3, 48, 48, 3)
    assert inputs["mask"].shape == (3, 48, 48, 1)
    for array in (inputs["image"], inputs["mask"], targets):
        assert array.dtype == np.float32
        assert array.min() >= 0.0 and array.max() <= 1.0
    assert set(np.unique(inputs["mask"])) == {0.0, 1.0}
    holes = np.broadcast_to(inputs["mask"] == 0, targets.shape)
    assert (inputs["image"][holes] == 0).all()
    np.testing.assert_array_equal(inputs["image"][~holes], targets[~holes])
    for mask in inputs["mask"]:
        assert 0.01 < hole_ratio(mask) <= 0.6


def test_unreadable_files_are_skipped_with_one_warning(photo_folder):
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable photo file\(s\) of 8: broken.jpg"):
        dataset = InpaintingDataset(photo_folder, image_size=32, batch_size=2)
    assert len(dataset.files) == 7


def test_truncated_photo_is_skipped_in_memory(photo_folder):
    complete = (photo_folder / "0.jpg").read_bytes()
    (photo_folder / "truncated.jpg").write_bytes(complete[: len(complete) // 2])
    with pytest.warns(UserWarning, match="skipped 2 unreadable .* broken.jpg, truncated.jpg"):
        dataset = InpaintingDataset(photo_folder, image_size=32, batch_size=2, in_memory=True)
    assert len(dataset.photos) == len(dataset.files) == 7


def test_truncated_photo_is_replaced_when_streaming(photo_folder):
    complete = (photo_folder / "0.jpg").read_bytes()
    (photo_folder / "truncated.jpg").write_bytes(complete[: len(complete) // 2])
    dataset = make_dataset(photo_folder, batch_size=8)
    assert len(dataset.files) == 8  # its header is fine: it fails only when decoded
    with pytest.warns(UserWarning, match=r"skipped an unreadable photo: .*truncated\.jpg"):
        _, targets = dataset[0]
    assert targets.shape == (8, 48, 48, 3)


def test_same_seed_reproduces_and_batches_differ(photo_folder):
    first, second = make_dataset(photo_folder), make_dataset(photo_folder)
    for index in range(len(first)):
        for array_a, array_b in zip(
            first[index][0].values(), second[index][0].values(), strict=True
        ):
            np.testing.assert_array_equal(array_a, array_b)
    (inputs_0, targets_0), (inputs_1, targets_1) = first[0], first[1]
    assert not np.array_equal(targets_0, targets_1)
    assert not np.array_equal(inputs_0["mask"], inputs_1["mask"])
    assert not np.array_equal(inputs_0["mask"][0], inputs_0["mask"][1])
    # Asking again for the same batch gives the same batch, as Keras' workers may.
    np.testing.assert_array_equal(first[0][1], targets_0)
    first.on_epoch_end()
    assert not np.array_equal(first[0][1], targets_0)
    assert not np.array_equal(make_dataset(photo_folder, seed=1)[0][1], targets_0)


def test_in_memory_mode_gives_the_same_batches(photo_folder):
    streamed = make_dataset(photo_folder, steps_per_epoch=4)
    cached = make_dataset(photo_folder, steps_per_epoch=4, in_memory=True)
    assert len(cached) == 4
    assert len(cached.photos) == 7
    assert min(min(photo.shape[:2]) for photo in cached.photos) == 48
    for index in range(4):
        np.testing.assert_array_equal(streamed[index][1], cached[index][1])


def test_photos_smaller_than_the_crop_are_scaled_up(photo_folder):
    dataset = make_dataset(photo_folder, image_size=128, batch_size=7, steps_per_epoch=1)
    _, targets = dataset[0]
    assert targets.shape == (7, 128, 128, 3)


def test_mask_options_are_passed_on(photo_folder):
    dataset = make_dataset(photo_folder, hole_ratio=(0.3, 0.4), mask_kinds={"random_blocks": 1})
    for mask in dataset[0][0]["mask"]:
        assert 0.3 < hole_ratio(mask) <= 0.4


def test_keras_arguments_are_passed_on(photo_folder):
    dataset = make_dataset(photo_folder, workers=2, max_queue_size=4)
    assert dataset.workers == 2
    assert dataset.max_queue_size == 4


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"image_size": 0}, "must be positive"),
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
        ({"hole_ratio": (0.5, 0.2)}, "hole_ratio"),
        ({"mask_kinds": {"circles": 1}}, "unknown mask kinds"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_arguments(photo_folder, arguments, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(photo_folder, **arguments)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        InpaintingDataset(tmp_path / "nowhere")


def test_folder_without_photos_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no photos here")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with (
        pytest.warns(UserWarning, match="skipped 1"),
        pytest.raises(ValueError, match="no readable photo"),
    ):
        InpaintingDataset(tmp_path)


def write_numbered_masks(folder, indices, size=32):
    folder.mkdir()
    for index in indices:
        bucket = HOLE_RATIO_BUCKETS[index // 2000]
        mask = MaskGenerator(seed=index).irregular(size, size, hole_ratio=bucket.range)
        # Mask files use white = hole.
        Image.fromarray(((1 - mask[..., 0]) * 255).astype(np.uint8)).save(
            folder / f"{index:05d}.png"
        )


def test_load_validation_set_pairs_each_photo_with_every_bucket(photo_folder, tmp_path):
    indices = [2000 * bucket + offset for bucket in range(6) for offset in (0, 20, 1000)]
    write_numbered_masks(tmp_path / "masks", indices)
    (photo_folder / "broken.jpg").unlink()
    samples = load_validation_set(photo_folder, tmp_path / "masks", size=32)
    assert len(samples) == 6 * 6  # six top-level photos, six buckets
    assert len({sample.name for sample in samples}) == len(samples)
    for sample in samples:
        assert sample.image.shape == (32, 32, 3) and sample.image.dtype == np.float32
        assert sample.mask.shape == (32, 32, 1) and sample.mask.dtype == np.float32
        assert bucket_of(hole_ratio(sample.mask)) == sample.bucket
    # Six photos spread over three masks per bucket: each mask serves two photos.
    bucket_0_names = [sample.name.rsplit("_", 1)[1] for sample in samples if sample.bucket == 0]
    assert bucket_0_names == ["mask00000"] * 2 + ["mask00020"] * 2 + ["mask01000"] * 2
    again = load_validation_set(photo_folder, tmp_path / "masks", size=32)
    assert [sample.name for sample in again] == [sample.name for sample in samples]


def test_evaluation_reads_a_mask_file_as_serving_does(photo_folder, tmp_path):
    # A brush layer at twice the samples' size: a dark stroke, opaque on transparency.
    layer = np.zeros((64, 64, 4), np.uint8)
    layer[10:30, 8:40] = (30, 20, 90, 255)
    (tmp_path / "masks").mkdir()
    path = tmp_path / "masks" / "02000.png"
    Image.fromarray(layer).save(path)
    (photo_folder / "broken.jpg").unlink()
    sample = load_validation_set(photo_folder, tmp_path / "masks", size=32)[0]
    served = read_mask(path.read_bytes(), (32, 32))
    np.testing.assert_array_equal(sample.mask[..., 0] == 0, served)
    assert served[5:15, 4:20].all() and served.sum() == 10 * 16


def test_validation_photos_are_centre_cropped(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = np.zeros((40, 60, 3), np.uint8)
    photo[:, 10:50] = 200
    Image.fromarray(photo).save(folder / "wide.png")
    samples = generated_validation_set(folder, size=40, per_bucket=1, seed=0)
    np.testing.assert_allclose(samples[0].image, 200 / 255)


def test_load_validation_set_rejects_unnumbered_masks(photo_folder, tmp_path):
    (tmp_path / "masks").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "masks" / "hole.png")
    with pytest.raises(ValueError, match="not named by its index"):
        load_validation_set(photo_folder, tmp_path / "masks", size=32)


def test_generated_validation_set(photo_folder):
    (photo_folder / "broken.jpg").unlink()
    samples = generated_validation_set(photo_folder, size=48, per_bucket=2, seed=0)
    assert len(samples) == 6 * 6 * 2
    for sample in samples:
        assert bucket_of(hole_ratio(sample.mask)) == sample.bucket
    again = generated_validation_set(photo_folder, size=48, per_bucket=2, seed=0)
    np.testing.assert_array_equal(samples[5].mask, again[5].mask)


def test_generated_object_masks_are_wide_holes_in_each_bucket(photo_folder):
    (photo_folder / "broken.jpg").unlink(missing_ok=True)
    samples = generated_validation_set(photo_folder, size=64, family="objects", seed=0)
    assert len(samples) == 6 * 6 and "_objects" in samples[0].name
    for sample in samples:
        assert bucket_of(hole_ratio(sample.mask)) == sample.bucket
    strokes = generated_validation_set(photo_folder, size=64, family="strokes", seed=0)

    def surviving_erosion(samples):
        holes = [(sample.mask[..., 0] == 0).astype(np.uint8) for sample in samples[-12:]]
        kernel = np.ones((5, 5), np.uint8)
        return sum(cv2.erode(hole, kernel).sum() for hole in holes) / sum(h.sum() for h in holes)

    assert surviving_erosion(samples) > surviving_erosion(strokes) + 0.1
    with pytest.raises(ValueError, match="mask family"):
        generated_validation_set(photo_folder, size=64, family="blobs")


@pytest.mark.needs_shared_data
def test_shared_validation_set(shared_data):
    shared_validation = shared_data / "val"
    samples = load_validation_set(
        shared_validation / "images", shared_validation / "masks", size=256
    )
    assert len(samples) == 480
    assert np.bincount([sample.bucket for sample in samples]).tolist() == [80] * 6
    for sample in samples:
        bucket = HOLE_RATIO_BUCKETS[sample.bucket]
        # The 512-pixel masks are shrunk to 256 as serving shrinks a mask: a pixel half
        # covered is a hole (no sliver of an object stays), which grows thin strokes.
        assert bucket.lower < hole_ratio(sample.mask) <= bucket.upper + 0.01
        assert sample.image.shape == (256, 256, 3)


# The photo reader, which the data sets rely on.


def encode(array, format_name, **save_arguments):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format_name, **save_arguments)
    return buffer.getvalue()


def test_load_rgb_converts_modes_to_rgb():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    rgb = arrays.load_rgb(encode(gray, "PNG"))
    assert rgb.shape == (8, 8, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[..., 1], gray)
    rgba = np.dstack([np.full((8, 8, 3), 90, np.uint8), np.zeros((8, 8), np.uint8)])
    np.testing.assert_array_equal(arrays.load_rgb(encode(rgba, "PNG")), 90)
    palette = Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE
    )
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    np.testing.assert_array_equal(arrays.load_rgb(buffer.getvalue()), 30)


def test_load_rgb_rescales_16_bit_grayscale(tmp_path):
    deep = np.array([[0, 257 * 100, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(arrays.load_rgb(tmp_path / "deep.png")[0, :, 0], [0, 100, 255])


def test_load_rgb_applies_exif_orientation():
    image = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees: the upright photo is 20 high and 10 wide
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert arrays.load_rgb(buffer.getvalue()).shape == (20, 10, 3)


def test_load_rgb_rejects_broken_files(tmp_path):
    with pytest.raises(ValueError, match="cannot read image <bytes>"):
        arrays.load_rgb(b"garbage")
    complete = encode(np.zeros((64, 64, 3), np.uint8), "JPEG")
    (tmp_path / "cut.jpg").write_bytes(complete[: len(complete) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*cut\.jpg: "):
        arrays.load_rgb(tmp_path / "cut.jpg")
    with pytest.raises(ValueError, match="cannot read image from a int"):
        arrays.load_rgb(42)


def test_float_conversions():
    image = np.array([0, 128, 255], np.uint8)
    as_float = arrays.to_float(image)
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float, [0.0, 128 / 255, 1.0])
    np.testing.assert_array_equal(arrays.to_uint8(as_float), image)
    np.testing.assert_array_equal(arrays.to_uint8(np.array([-0.2, 0.499 / 255, 1.3])), [0, 0, 255])
    with pytest.raises(ValueError, match="uint8"):
        arrays.to_float(as_float)
    with pytest.raises(ValueError, match="floating-point"):
        arrays.to_uint8(image)
