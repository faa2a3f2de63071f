"""What each `holefill` command does, given its parsed flags.

Each imports what it needs when it runs, so that commands that need no Keras never import
it. The Keras backend is Keras's own choice (`KERAS_BACKEND`, default TensorFlow); training
runs on any backend.
"""

import json
import os
import platform
import sys
from pathlib import Path

from holefill.cli.configs import model_config_from, training_config_from


def run_info(arguments):
    from holefill.nn.architectures import describe

    description = describe(model_config_from(arguments))
    print(json.dumps(description, indent=2))
    print(
        f"{description['parameters'] / 1e6:.2f} M parameters, "
        f"{description['gflop_per_image']:.2f} GFLOP per "
        f"{description['config']['image_size']} px image"
    )


def run_training(arguments):
    from holefill.training.loop import train

    final = train(training_config_from(arguments))
    print(f"Latest checkpoint: {final}")


def run_slim(arguments):
    from holefill.nn.loading import save_weights_only

    folder = save_weights_only(arguments.source, arguments.output)
    size = sum(path.stat().st_size for path in folder.iterdir())
    print(f"Wrote {folder} ({size / 1e6:.1f} MB)")


def run_evaluation(arguments):
    import numpy as np

    from holefill.evaluation.baselines import CLASSICAL_METHODS
    from holefill.evaluation.evaluate import (
        UNCERTAINTY_FILENAME,
        batched,
        evaluate,
        evaluate_uncertainty,
    )
    from holefill.evaluation.methods import evaluation_metrics, keras_method, save_comparison_grid
    from holefill.evaluation.validation_sets import generated_validation_set, load_validation_set

    if arguments.masks:
        samples = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    elif arguments.generated_masks:
        samples = generated_validation_set(
            arguments.images,
            size=arguments.size,
            per_bucket=arguments.generated_masks,
            family=arguments.mask_family,
        )
    else:
        raise ValueError("pass --masks FOLDER or --generated-masks N.")
    samples = samples[: arguments.limit] if arguments.limit else samples

    methods = {}
    if arguments.model:
        from holefill.inference.seams import DEFAULT_SEAMS
        from holefill.inference.synthesis import DEFAULT_SYNTHESIS

        seams = None if arguments.raw_network else DEFAULT_SEAMS
        synthesis = DEFAULT_SYNTHESIS if arguments.fill == "synthesis" else None
        methods["holefill"] = keras_method(
            arguments.model, arguments.batch_size, seams=seams, synthesis=synthesis
        )
    for name in filter(None, arguments.baselines.split(",")):
        if name not in CLASSICAL_METHODS:
            raise ValueError(f"unknown baseline {name!r}; choose from {sorted(CLASSICAL_METHODS)}.")
        methods[name] = batched(CLASSICAL_METHODS[name])
    if not methods:
        raise ValueError("nothing to evaluate: pass --model or at least one baseline.")

    if arguments.uncertainty_samples and not arguments.model:
        raise ValueError("--uncertainty-samples needs --model.")
    metrics, note = evaluation_metrics(include_lpips=arguments.lpips)
    if note:
        print(f"holefill evaluate: warning: {note}", file=sys.stderr)
    result = evaluate(samples, methods, metrics=metrics, batch_size=arguments.batch_size)
    result.save(arguments.output)
    print(result.to_markdown())
    print(f"Wrote {arguments.output}/evaluation.json, .md and .png")
    if arguments.grid:
        # Spread over the set, so that the rows show several photos and hole sizes.
        rows = np.linspace(0, len(samples) - 1, min(arguments.grid, len(samples))).round()
        path = save_comparison_grid([samples[int(row)] for row in rows], methods, arguments.output)
        print(f"Wrote {path}")
    if arguments.uncertainty_samples:
        uncertainty = evaluate_uncertainty(
            samples,
            keras_method(arguments.model, arguments.batch_size, monte_carlo=True),
            draws=arguments.uncertainty_samples,
            batch_size=arguments.batch_size,
        )
        uncertainty.save(arguments.output)
        print(uncertainty.to_markdown())
        print(f"Wrote {arguments.output}/{UNCERTAINTY_FILENAME}")


def run_export(arguments):
    from holefill.export.litert import export_model

    card = export_model(arguments.source, arguments.output, tile_size=arguments.tile_size)
    check = card.export_check
    print(card.model_dump_json(indent=2))
    print(
        f"LiteRT vs Keras: max |difference| {check['litert_max_abs_difference']:.2e} "
        f"over {check['samples']} tiles of {card.tile_size} px"
    )


def run_predict(arguments):
    """Inpaints every photo; a bad file costs a one-line reason and exit status 1."""
    from tqdm import tqdm

    from holefill.imaging.folders import image_format, mask_file_for, photo_files
    from holefill.inference.inpainter import DEFAULT_MASK_DILATION, DEFAULT_MODEL_DIR, Inpainter

    photos = list(photo_files(arguments.images))
    if not photos:
        raise ValueError("no photos found in the given paths.")
    single_file = len(photos) == 1 and bool(image_format(arguments.output))
    model_dir = arguments.model or DEFAULT_MODEL_DIR
    if not model_dir.is_dir():
        raise ValueError(
            f"no model folder at {model_dir}: pass --model with a folder that "
            "`holefill export` wrote."
        )
    dilation = DEFAULT_MASK_DILATION if arguments.dilation is None else arguments.dilation
    inpainter = Inpainter.load(model_dir, threads=arguments.threads, mask_dilation=dilation)
    # Once, rather than once per photo.
    inpainter.uncertainty_method(arguments.uncertainty, arguments.uncertainty_samples)
    if not single_file:
        arguments.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in tqdm(photos, unit="photo", disable=None):
        target = arguments.output if single_file else arguments.output / photo.name
        try:
            if target.resolve() == photo.resolve():
                raise ValueError("the result would overwrite the photo: choose another -o")
            result = inpainter.inpaint(
                photo,
                mask_file_for(photo, arguments.mask),
                strategy=arguments.strategy,
                fill=arguments.fill,
                uncertainty=arguments.uncertainty,
                uncertainty_samples=arguments.uncertainty_samples,
                seed=arguments.seed,
            )
            result.save(target)
            if result.uncertainty is not None:
                stem = target.with_suffix("")
                result.uncertainty.heatmap().save(f"{stem}.uncertainty.png")
                result.uncertainty.save_arrays(f"{stem}.uncertainty.npz")
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"holefill predict: {photo}: {error}", file=sys.stderr)
    print(f"{len(photos) - failures} of {len(photos)} photos inpainted into {arguments.output}")
    return 1 if failures else 0


def run_fetch_vgg(arguments):
    from holefill.nn.pretrained import fetch_vgg16_weights

    print(fetch_vgg16_weights(arguments.output))


def run_fetch_lpips(arguments):
    from holefill.nn.pretrained import fetch_lpips_weights

    print(fetch_lpips_weights(arguments.network, arguments.output))


def run_calibrate_uncertainty(arguments):
    from holefill.card import UncertaintySection, read_card, write_card
    from holefill.evaluation.uncertainty_calibration import (
        fitting_samples,
        measure,
        to_markdown,
        uncertainty_section,
    )
    from holefill.evaluation.validation_sets import load_validation_set
    from holefill.inference.inpainter import Inpainter

    if arguments.fit_every < 1 or arguments.draws < 2:
        raise ValueError("--fit-every must be at least 1 and --draws at least 2.")
    inpainter = Inpainter.load(
        arguments.model,
        threads=arguments.threads,
        mask_dilation=0,
        validated_uncertainty_only=False,
    )
    fitting_set = fitting_samples(
        arguments.fit_images, every=arguments.fit_every, size=arguments.size
    )
    samples = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    samples = samples[: arguments.limit] if arguments.limit else samples
    print(f"Fitting on {len(fitting_set)} samples, validating on {len(samples)}")
    fitting = measure(inpainter, fitting_set, pixels_per_image=arguments.pixels)
    scoring = measure(inpainter, samples, draws=arguments.draws, pixels_per_image=arguments.pixels)
    described_sets = {
        "fitted_on": {
            "photos": f"one photo in every {arguments.fit_every} of {arguments.fit_images}",
            "masks": "generated strokes and objects, one per bucket and family",
            "samples": len(fitting_set),
            "size": arguments.size,
        },
        "validation": {
            "set": f"{arguments.images} with {arguments.masks}",
            "samples": len(samples),
            "size": arguments.size,
        },
    }
    section, _ = uncertainty_section(
        fitting, scoring, draws=arguments.draws, described_sets=described_sets
    )
    card = read_card(arguments.model)
    uncertainty = UncertaintySection.model_validate(section)
    write_card(arguments.model, card.model_copy(update={"uncertainty": uncertainty}))
    report = to_markdown(section)
    print(report)
    if arguments.report:
        arguments.report.write_text(report)
    print(f"Wrote the uncertainty section of {arguments.model}: default {uncertainty.default}")


def run_measure_cost(arguments):
    from holefill.card import CostSection, write_card
    from holefill.inference.cost import measure
    from holefill.inference.runtime import LiteRTModel

    if arguments.side < 256 or arguments.repeats < 1:
        raise ValueError("--side must be at least 256 and --repeats at least 1.")
    if arguments.budget <= 0 or arguments.memory_budget <= 0:
        raise ValueError("--budget and --memory-budget must be positive.")
    model = LiteRTModel.load(arguments.model, threads=arguments.threads)
    cost = measure(
        model,
        side=arguments.side,
        repeats=arguments.repeats,
        budget_seconds=arguments.budget,
        memory_budget_gb=arguments.memory_budget,
    )
    section = CostSection(
        **cost.model_dump(),
        measured_on=f"{platform.machine()}, {os.cpu_count()} CPUs, {model.threads} threads",
        photo_side=arguments.side,
    )
    write_card(arguments.model, model.card.model_copy(update={"cost": section}))
    for name, value in section.model_dump().items():
        print(f"{name}: {value}")
    print(f"Wrote the cost section of {arguments.model}")


def run_card(arguments):
    from holefill.export.provenance import record_in_card

    evaluations = {}
    for item in arguments.evaluation:
        size, separator, folder = item.partition("=")
        if not separator or not size.isdigit():
            raise ValueError(
                f"--evaluation takes SIZE=FOLDER, e.g. 256=runs/eval-256; got {item!r}."
            )
        evaluations[int(size)] = Path(folder)
    card = record_in_card(
        arguments.model,
        data_terms=arguments.data_terms,
        hardware=arguments.hardware,
        evaluations=evaluations,
    )
    for size, record in card.evaluation.items():
        verdict = "met" if record["quality_bar"] else "MISSED"
        print(
            f"{size} px: quality bar (PSNR and SSIM above every baseline from (10%,20%]) {verdict}"
        )
    print(f"Wrote {arguments.model}/model.json")
