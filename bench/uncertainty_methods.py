"""Which map ranks a fill's errors, side by side on the same photos, masks and fills:
Monte-Carlo dropout on the last layer and on more decoder layers, a learned error head, the
single-pass features alone, and the fitted error map.

    .venv/bin/python bench/uncertainty_methods.py --model models/default \
        --images ../shared/data/val/images --masks ../shared/data/val/masks \
        --fit-images ../shared/data/train --limit 120 --output docs/uncertainty-methods.md

Every sample is filled as served (`holefill.evaluation.uncertainty_calibration.measure`, mask
dilation 0); the error is the mean absolute error over the channels at each hole pixel.

- Monte-Carlo dropout, last layer: the served LiteRT draws.
- Monte-Carlo dropout on the last L decoder layers (`--dropout-layers`): the same weights
  (dropout has none) in a Keras model with dropout before each of those layers; the
  spread of N raw network draws, and the seconds per draw.
- A learned error head: a small dilated CNN on the served fill, the diffusion fill, the
  known photo, the mask and the distance to the hole's edge, trained with a Laplace
  negative log-likelihood of the error on the hole pixels of the fitting photos (its
  output is the Laplace scale, the expected absolute error), the network frozen.
- Each feature of `holefill.inference.error_map` alone, and `ErrorMap`, fitted on the same fitting
  photos (never on the photos it is scored on).

Prints and writes Spearman's correlation per bucket and overall, the reliability of the
best maps (predicted value in deciles against the measured RMSE) and the cost per image.
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from holefill import Inpainter
from holefill.evaluation.uncertainty_calibration import (
    fitting_samples,
    measure,
    reliability_markdown,
    validate,
)
from holefill.evaluation.validation_sets import load_validation_set
from holefill.inference.error_map import FEATURES, ErrorMap
from holefill.inference.seams import DEFAULT_SEAMS, diffuse_holes
from holefill.inference.strategies import unit_float
from holefill.inference.uncertainty import OVERALL

HEAD_INPUTS = 11


def head_inputs(photo, holes, filled):
    """The learned head's inputs `(height, width, 11)`: the served fill, the diffusion
    fill, the known photo, the known mask and the scaled log distance to the edge."""
    import cv2

    known = (~holes).astype(np.float32)[..., None]
    diffusion = diffuse_holes(photo, holes, DEFAULT_SEAMS)
    diffused = photo.copy()
    diffused[diffusion.window][diffusion.holes] = diffusion.values
    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, 3)
    return np.concatenate(
        [
            unit_float(filled),
            diffused,
            photo * known,
            known,
            np.log1p(distance)[..., None] / 4.0,
        ],
        axis=2,
    ).astype(np.float32)


def train_error_head(inpainter, samples, *, steps, crop=128, batch=16, seed=0):
    """The head, trained with a Laplace NLL on the samples' hole pixels; `(model, seconds)`."""
    import keras

    inputs, targets = [], []
    for sample in samples:
        holes = sample.mask[..., 0] < 0.5
        photo = sample.image.astype(np.float32)
        filled = inpainter.inpaint(photo, holes).photo.colour()
        inputs.append(head_inputs(photo, holes, filled))
        error = np.abs(unit_float(filled) - photo).mean(axis=2)
        targets.append(np.stack([error, holes.astype(np.float32)], axis=2))
    inputs, targets = np.stack(inputs), np.stack(targets)

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((None, None, HEAD_INPUTS))]
    hidden = layers[0]
    for dilation in (1, 2, 4, 8, 1):
        hidden = keras.layers.Conv2D(24, 3, padding="same", dilation_rate=dilation)(hidden)
        hidden = keras.layers.Activation("relu")(hidden)
    scale = keras.layers.Conv2D(1, 1, activation="softplus")(hidden)
    model = keras.Model(layers[0], scale)

    def laplace_nll(target, predicted):
        error, holes = target[..., 0], target[..., 1]
        scale = predicted[..., 0] + 1e-3
        nll = error / scale + keras.ops.log(scale)
        return keras.ops.sum(nll * holes) / keras.ops.maximum(keras.ops.sum(holes), 1.0)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=laplace_nll)
    rng = np.random.default_rng(seed)

    def batches():
        size = inputs.shape[1]
        while True:
            index = rng.integers(0, len(inputs), batch)
            top, left = rng.integers(0, size - crop + 1, 2)
            window = (index, slice(top, top + crop), slice(left, left + crop))
            yield inputs[window], targets[window]

    started = time.perf_counter()
    model.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=2)
    return model, time.perf_counter() - started


def keras_dropout_draws(model_dir, dropout_layers, draws):
    """`(map, seconds per draw)`: the spread of `draws` raw network draws with dropout on
    the last `dropout_layers` decoder layers, as a `map(photo, holes, filled)`."""
    from holefill.nn.architectures import architecture_of
    from holefill.nn.loading import load_generator

    trained, origin = load_generator(model_dir)
    architecture = architecture_of(origin.config)
    config = dataclasses.replace(origin.config, dropout_layers=dropout_layers)
    # Dropout has no weights: the trained ones fit a model with more of it.
    model = architecture.build(config, monte_carlo=True)
    model.set_weights(trained.get_weights())
    seconds = []

    def spread(photo, holes, filled):
        known = np.repeat((~holes).astype(np.float32)[None, ..., None], draws, axis=0)
        images = np.repeat(photo[None], draws, axis=0) * known
        started = time.perf_counter()
        outputs = np.clip(model.predict({"image": images, "mask": known}, verbose=0), 0, 1)
        seconds.append((time.perf_counter() - started) / draws)
        return outputs.std(axis=0, ddof=1).mean(axis=2)

    return spread, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--images", type=Path, required=True, help="photos to score on")
    parser.add_argument("--masks", type=Path, required=True, help="NVIDIA-style masks")
    parser.add_argument("--fit-images", type=Path, required=True, help="photos to fit on")
    parser.add_argument("--fit-every", type=int, default=53, help="every Nth fitting photo")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument(
        "--dropout-layers", default="3", help="comma-separated Keras variants to draw"
    )
    parser.add_argument("--head-steps", type=int, default=600)
    parser.add_argument("--pixels", type=int, default=2048, help="hole pixels per image")
    parser.add_argument("--limit", type=int, help="score only the first N samples")
    parser.add_argument("--output", type=Path, help="also write the tables here (Markdown)")
    arguments = parser.parse_args()

    inpainter = Inpainter.load(arguments.model, mask_dilation=0, validated_uncertainty_only=False)
    fitting_set = fitting_samples(
        arguments.fit_images, every=arguments.fit_every, size=arguments.size
    )
    scoring_set = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    scoring_set = scoring_set[: arguments.limit] if arguments.limit else scoring_set

    head, head_seconds = train_error_head(inpainter, fitting_set, steps=arguments.head_steps)
    head_cost = []

    def learned(photo, holes, filled):
        started = time.perf_counter()
        scale = head.predict(head_inputs(photo, holes, filled)[None], verbose=0)[0, ..., 0]
        head_cost.append(time.perf_counter() - started)
        return scale + 1e-3

    extra = {"learned error head (Laplace NLL)": learned}
    draw_seconds = {}
    for layers in (int(value) for value in arguments.dropout_layers.split(",") if value):
        name = f"MC dropout, last {layers} decoder layers, N={arguments.draws} (Keras)"
        extra[name], draw_seconds[name] = keras_dropout_draws(
            arguments.model, layers, arguments.draws
        )

    fitting = measure(inpainter, fitting_set, pixels_per_image=arguments.pixels)
    scoring = measure(
        inpainter,
        scoring_set,
        draws=arguments.draws,
        pixels_per_image=arguments.pixels,
        extra_maps=extra,
    )
    error_map = ErrorMap.fit(fitting.features, fitting.errors)
    methods = {f"MC dropout, last layer, N={arguments.draws} (served)": scoring.spread}
    methods.update({name: values for name, values in scoring.extra.items() if "MC" in name})
    methods.update({f"{name} alone": scoring.features[i] for i, name in enumerate(FEATURES)})
    methods["learned error head (Laplace NLL)"] = scoring.extra["learned error head (Laplace NLL)"]
    methods["ErrorMap (the four, fitted)"] = error_map.predict(scoring.features)
    validations = {
        name: validate(values, scoring.errors, scoring.buckets) for name, values in methods.items()
    }

    rows = list(validations["ErrorMap (the four, fitted)"]["spearman"])
    lines = [
        f"Model {arguments.model}, {len(scoring_set)} samples of {arguments.images} at "
        f"{arguments.size} px ({arguments.pixels} hole pixels each at most). ErrorMap and the "
        f"head fitted on {len(fitting_set)} samples (one photo in every {arguments.fit_every} "
        f"of {arguments.fit_images}, generated strokes and objects). ErrorMap weights "
        f"{error_map.to_dict()}.",
        "",
        "Spearman correlation with the absolute error, over hole pixels:",
        "",
        "| map | " + " | ".join(rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for name, validation in validations.items():
        spearman = validation["spearman"]
        lines.append(f"| {name} | " + " | ".join(f"{spearman[row]:.3f}" for row in rows) + " |")
    best = sorted(validations, key=lambda name: -validations[name]["spearman"][OVERALL])[:2]
    for name in best:
        lines += reliability_markdown(name, validations[name])
    fill = scoring.seconds["monte_carlo"]  # the served fill with its N draws
    lines += [
        "",
        "Cost per image (median, 2 CPU cores): served fill with N dropout draws "
        f"{1000 * fill:.0f} ms; error map (diffusion and features) "
        f"{1000 * scoring.seconds['error_map']:.0f} ms; learned head "
        f"{1000 * np.median(head_cost):.0f} ms (plus the diffusion), trained in "
        f"{head_seconds:.0f} s ({arguments.head_steps} steps); Keras draws: "
        + ", ".join(
            f"{name.split(',')[1].strip()} {1000 * np.median(seconds):.0f} ms per draw"
            for name, seconds in draw_seconds.items()
        )
        + ".",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if arguments.output:
        arguments.output.write_text(report)


if __name__ == "__main__":
    main()
