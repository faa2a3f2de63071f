"""The single-pass error estimate: its features, its fit and its serialisation."""

import numpy as np
import pytest
from skimage import data as skimage_data

from holefill.inference.error_map import FEATURES, ErrorMap, error_features, hole_features
from holefill.inference.seams import DIFFUSIONS


def photo_and_holes():
    photo = skimage_data.astronaut()[::4, ::4].astype(np.float32) / 255.0
    holes = np.zeros(photo.shape[:2], bool)
    holes[40:90, 50:80] = True
    return photo, holes


def test_features_read_the_surroundings_and_the_fill():
    photo, holes = photo_and_holes()
    diffusion = DIFFUSIONS["navier-stokes"].fill(photo, holes.astype(np.uint8), 3)
    features = error_features(photo, holes, diffusion, diffusion)
    assert features.shape == (len(FEATURES), *holes.shape)
    disagreement, distance, context, _ = features
    assert disagreement.max() < 1e-6, "a fill agrees with itself"
    assert distance[holes].max() == pytest.approx(15, abs=1.5) and distance[~holes].max() == 0
    # The photo's pixels inside the hole are never read.
    scrambled = photo.copy()
    scrambled[holes] = 1.0 - scrambled[holes]
    np.testing.assert_array_equal(
        error_features(scrambled, holes, diffusion, diffusion)[2], context
    )
    noisy = np.clip(diffusion + np.random.default_rng(0).normal(0, 0.1, photo.shape), 0, 1)
    busier = error_features(photo, holes, noisy, diffusion)
    assert busier[0][holes].mean() > 0.03 and busier[3][holes].mean() > features[3][holes].mean()


def test_fit_recovers_a_log_linear_error_and_calibrates_its_mean():
    rng = np.random.default_rng(0)
    features = rng.uniform(0.01, 1.0, (len(FEATURES), 5000))
    truth = ErrorMap((0.5, 0.2, -0.3, 0.1, -2.0))
    errors = truth.predict(features) * np.exp(rng.normal(0, 0.05, 5000))
    fitted = ErrorMap.fit(features, errors)
    np.testing.assert_allclose(fitted.weights, truth.weights, atol=0.05)
    assert fitted.predict(features).mean() == pytest.approx(errors.mean(), rel=1e-6)
    assert fitted.predict(features[:, :10].reshape(4, 2, 5)).shape == (2, 5)


def test_round_trip_and_refusals():
    error_map = ErrorMap((0.1, 0.2, 0.3, 0.4, -1.0), scale=1.5)
    assert ErrorMap.from_dict(error_map.to_dict()) == error_map
    with pytest.raises(ValueError, match="fit it again"):
        ErrorMap.from_dict({**error_map.to_dict(), "features": ["distance"]})
    with pytest.raises(ValueError, match="takes 5 weights"):
        ErrorMap((1.0, 2.0))


def test_served_features_read_a_window_and_match_the_whole_photo_on_the_holes():
    from holefill.inference.seams import DEFAULT_SEAMS, diffuse_holes

    photo = skimage_data.astronaut().astype(np.float32) / 255.0  # 512 px: the window is less
    holes = np.zeros(photo.shape[:2], bool)
    holes[200:260, 300:340] = True
    fill = np.clip(photo + 0.2, 0, 1)
    diffusion = diffuse_holes(photo, holes, DEFAULT_SEAMS)
    served = hole_features(photo, holes, fill, diffusion)
    assert served.shape == (len(FEATURES), holes.sum())
    diffused = photo.copy()
    diffused[diffusion.window][diffusion.holes] = diffusion.values
    whole = error_features(photo, holes, np.where(holes[..., None], fill, photo), diffused)
    # The context blur is cut at the window, 3 sigma out: within 0.2%.
    np.testing.assert_allclose(served, whole[:, holes], rtol=2e-3, atol=1e-5)
    error = ErrorMap((0.2, 0.4, 0.1, 0.5, -1.6)).estimate(photo, holes, fill, diffusion)
    assert error.shape == holes.shape and (error[~holes] == 0).all() and error[holes].min() > 0
