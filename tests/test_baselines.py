import numpy as np
import pytest

from holefill.evaluation import baselines


def _gradient_image_and_mask(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    ramp = np.linspace(0.1, 0.9, size, dtype=np.float32)
    image = np.stack(
        [np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)), np.full((size, size), 0.5)],
        axis=-1,
    ).astype(np.float32)
    mask = np.ones((size, size, 1), np.float32)
    mask[20:36, 24:44] = 0.0
    return image, mask


@pytest.mark.parametrize("name", sorted(baselines.CLASSICAL_METHODS))
def test_classical_method_fills_a_smooth_gradient(name):
    image, mask = _gradient_image_and_mask()
    hole = mask[..., 0] == 0
    masked_image = image * mask  # the methods must not need the hole's content
    result = baselines.CLASSICAL_METHODS[name](masked_image, mask)

    assert result.shape == image.shape
    assert result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    np.testing.assert_array_equal(result[~hole], image[~hole])
    fill_error = np.abs(result[hole] - image[hole]).mean()
    zero_fill_error = np.abs(image[hole]).mean()
    assert fill_error < 0.1 * zero_fill_error, (fill_error, zero_fill_error)


def test_classical_methods_reject_a_mask_of_the_wrong_shape():
    image, mask = _gradient_image_and_mask()
    with pytest.raises(ValueError, match="mask must have shape"):
        baselines.telea(image, mask[..., 0])
    with pytest.raises(ValueError, match="image must have shape"):
        baselines.biharmonic(image[..., 0], mask)
