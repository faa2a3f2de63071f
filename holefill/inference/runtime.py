"""Runs an exported model with LiteRT: tiles, and Monte-Carlo dropout samples of a tile.

This is the only serving module that touches the network, and it imports neither
TensorFlow nor Keras, so that a serving process starts quickly and stays small
(docs/MEASUREMENTS.md). Tiles are float32 in [0, 1] with the library's mask convention (1 = known,
0 = hole), at the model's fixed `tile_size`.

Every architecture exports the same graphs (`holefill.card`), so the card alone decides
what runs: the architecture it names, its tile size, and the Monte-Carlo trunk and head
with their inputs, crop margin and alignment (a head that mixes every position, as the
context encoder's, has the whole tile as its margin, so it always runs on whole tiles).
"""

import dataclasses
import os
import threading
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from holefill.card import LITERT_HEAD_NAME, LITERT_TRUNK_NAME, read_card
from holefill.errors import InvalidInputError

# Head inputs per call, in float32 elements: samples are batched up to this, so that memory
# stays bounded whatever the number of samples (a whole 512 px tile needs ~16 M per sample).
HEAD_BATCH_ELEMENTS = 8_000_000
# Block sides (tile pixels) for the head's windows around scattered holes, and how much
# cheaper (in pixels) the windows must be than one crop around every hole to be chosen.
HEAD_BLOCKS = (16, 32, 64)
HEAD_BLOCK_ADVANTAGE = 0.9


def available_cpus():
    """CPUs this process may run on (the vCPUs of a Lambda function or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity
        return os.cpu_count() or 1


class LiteRTModel:
    """An exported model folder of any architecture (`architecture`), loaded for LiteRT.

    The deterministic network loads at once; the Monte-Carlo trunk and head load the first
    time they are needed. Calls are serialised by a lock: a LiteRT interpreter must not run
    two invocations at once, and one invocation already uses `threads` CPUs.

    Args:
        model_dir: the folder `holefill export` wrote.
        threads: CPU threads per invocation; defaults to every CPU available.

    Example:

    ```python
    model = LiteRTModel.load("models/default", threads=2)
    output = model.predict(image, known)  # (tile, tile, 3), float32
    ```
    """

    def __init__(self, model_dir, card, *, threads=None):
        self.model_dir = Path(model_dir)
        self.card = card
        self.threads = available_cpus() if threads is None else int(threads)
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads!r}.")
        self.architecture = card.architecture
        self.tile_size = card.tile_size
        self.monte_carlo_spec = card.monte_carlo
        self._deterministic = self._runner(card.files.litert)
        self._trunk = self._head = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir, *, threads=None):
        """Reads the card of `model_dir` (`holefill.card.read_card`) and loads its
        deterministic network."""
        return cls(model_dir, read_card(model_dir), threads=threads)

    @property
    def supports_uncertainty(self):
        return self.monte_carlo_spec is not None

    def predict(self, image, known):
        """One deterministic pass over a tile.

        Args:
            image: float32 `(tile, tile, 3)`; hole pixels may hold anything.
            known: float32 `(tile, tile, 1)`, 1 = known pixel, 0 = hole.

        Returns:
            The network's output, float32 `(tile, tile, 3)`, not clipped.
        """
        image, known = self._check_tile(image, known)
        with self._lock:
            (output,) = self._deterministic(image=(image * known)[None], mask=known[None]).values()
        return output[0]

    def monte_carlo(self, image, known, samples, rng):
        """The deterministic output and the moments of `samples` dropout draws of a tile.

        The trunk runs once. The head runs only on windows around the holes whose results
        on the holes equal a run on the whole tile (they keep the card's `crop_margin` from
        every side that is not the tile's edge): one crop around all the holes, or, when
        they cover less, equal windows around the blocks that hold holes (strokes across a
        tile). Every draw-independent input is written into LiteRT once; per call only the
        keep masks are drawn, in place, for a batch of samples times windows. Run 0 has
        keep masks of ones, which is the deterministic network. Draws are clipped to
        [0, 1] before the moments, as the photo will be. Outside the windows every pixel
        is known: all three results there are `image` (and its square).

        Each window draws its own keep masks, everywhere in it, so a pixel's result
        depends on independent Bernoulli keep values over its whole receptive field,
        exactly as under Keras `Dropout`: every pixel's distribution, hence its mean, its
        spread and its interval, is that of `MonteCarloDropout`. (Two windows overlap on
        their margins with independent draws, so only the correlation between pixels of
        different windows differs, which no output shows.)

        Args:
            image: float32 `(tile, tile, 3)`.
            known: float32 `(tile, tile, 1)`, 1 = known pixel, 0 = hole.
            samples: the number of draws.
            rng: a `numpy.random.Generator` for the keep masks.

        Returns:
            `(deterministic, mean, mean_square)`, float32 `(tile, tile, 3)` each.
        """
        self.require_monte_carlo()
        image, known = self._check_tile(image, known)
        results = [image.copy(), image.copy(), np.square(image)]
        windows = self._head_windows(known[..., 0])
        if windows is None:
            return tuple(results)
        tile_inputs = {
            "image": (image * known)[None],
            "mask": known[None],
            **self.trunk(image, known),
        }
        head = self._head_graph()
        plan = self._head_plan(head, windows, runs=samples + 1)
        with self._lock:
            head.prepare(plan.shapes)
            self._write_window_inputs(head, tile_inputs, windows)
            deterministic, total, total_square = self._draw(head, plan, rng)
        for index, (window, inner) in enumerate(windows):
            target = tuple(
                slice(outer.start + part.start, outer.start + part.stop)
                for outer, part in zip(window, inner, strict=True)
            )
            results[0][target] = deterministic[index][inner]
            results[1][target] = total[index][inner] / samples
            results[2][target] = total_square[index][inner] / samples
        return tuple(results)

    def _head_plan(self, head, windows, runs):
        """How `runs` head runs on `windows` are batched: as few calls as the element
        budget allows, each of the same batch (LiteRT plans its memory once)."""
        specs = self.monte_carlo_spec.head_inputs
        count = len(windows)
        height, width = _window_shape(windows[0][0])
        keep_names = tuple(name for name, spec in specs.items() if spec.source == "keep")
        per_sample = count * sum(
            height // specs[name].stride * (width // specs[name].stride) * head.channels[name]
            for name in keep_names
        )
        calls = -(-runs // max(1, min(runs, HEAD_BATCH_ELEMENTS // per_sample)))
        batch = -(-runs // calls)
        shapes = {}
        for name, spec in specs.items():
            stride = spec.stride
            # Windows are the batch; a shared input of one window broadcasts over samples.
            size = 1 if spec.shared and count == 1 else batch * count
            shapes[name] = (size, height // stride, width // stride, head.channels[name])
        return _HeadPlan(runs, calls, batch, count, (height, width), keep_names, shapes)

    def _write_window_inputs(self, head, tile_inputs, windows):
        """Every draw-independent input, cropped to each window, written into LiteRT once."""
        count = len(windows)
        for name, spec in self.monte_carlo_spec.head_inputs.items():
            if spec.source == "keep":
                continue
            stride = spec.stride
            crops = [
                tile_inputs[name][0, _scaled(rows, stride), _scaled(columns, stride)]
                for (rows, columns), _ in windows
            ]
            view = head.input_view(name)
            view.reshape(-1, count, *view.shape[1:])[:] = np.stack(crops)
            del view  # LiteRT runs only once no array points into its memory

    def _draw(self, head, plan, rng):
        """Run 0 (keep masks of ones: the deterministic output) and the sum and sum of
        squares of the other runs' clipped outputs, per window."""
        count, (height, width) = plan.count, plan.window_shape
        total = np.zeros((count, height, width, 3), np.float64)
        total_square = np.zeros_like(total)
        deterministic = None
        for call in range(plan.calls):
            first = call * plan.batch
            used = min(plan.batch, plan.runs - first)
            for name in plan.keep_names:
                view = head.input_view(name)
                fill_keep_mask(view[: used * count], self.monte_carlo_spec.dropout_rate, rng)
                view[used * count :] = 1.0  # runs past the last sample: computed, not used
                if first == 0:
                    view[:count] = 1.0
                del view
            outputs = head.run().reshape(plan.batch, count, height, width, 3)[:used]
            if first == 0:
                deterministic = outputs[0]
                outputs = outputs[1:]
            outputs = np.clip(outputs, 0.0, 1.0)
            total += outputs.sum(axis=0)
            total_square += np.square(outputs).sum(axis=0)
        return deterministic, total, total_square

    def require_monte_carlo(self):
        """Raises `InvalidInputError` ("uncertainty_unavailable") for a model without dropout."""
        if not self.supports_uncertainty:
            raise InvalidInputError(
                "uncertainty_unavailable",
                f"the model in {self.model_dir} was trained without dropout, so it cannot "
                "draw Monte-Carlo samples: ask for the error-map uncertainty, or use a model "
                "trained with --dropout.",
            )

    def trunk(self, image, known):
        """The Monte-Carlo trunk's outputs for one tile: `{name: (1, h, w, channels)}`."""
        image, known = self._check_tile(image, known)
        with self._lock:
            return self._trunk_runner()(image=(image * known)[None], mask=known[None])

    def head(self, inputs):
        """One batched run of the Monte-Carlo head: `{name: (n, h, w, c)}` -> `(n, h, w, 3)`."""
        head = self._head_graph()
        with self._lock:
            head.prepare({name: np.shape(value) for name, value in inputs.items()})
            for name, value in inputs.items():
                view = head.input_view(name)
                view[...] = value
                del view
            return head.run()

    def head_input_channels(self, name):
        return self._head_graph().channels[name]

    def keep_mask(self, shape, rng):
        """Bernoulli(1 - rate) / (1 - rate): exactly what Keras `Dropout` multiplies by."""
        mask = np.empty(shape, np.float32)
        fill_keep_mask(mask, self.monte_carlo_spec.dropout_rate, rng)
        return mask

    def _head_windows(self, known):
        """Equal windows the head runs on: `[((rows, columns), (inner_rows, inner_columns))]`,
        where the inner slices (relative to the window) hold the holes the window is for;
        None without holes.

        One crop around every hole plus the margin, or, when it costs less, a window per
        block of `block` pixels that holds holes, grown by the margin (and moved inside
        the tile at its edges, which need no margin).
        """
        holes = known < 0.5
        crop = self._head_crop(holes)
        if crop is None:
            return None
        rows, columns = crop
        whole = ((slice(0, rows.stop - rows.start), slice(0, columns.stop - columns.start)),)
        best, best_cost = [(crop, whole[0])], _area(crop)
        margin = self.monte_carlo_spec.crop_margin
        alignment = self.monte_carlo_spec.crop_alignment
        size = self.tile_size
        for block in HEAD_BLOCKS:
            side = block + 2 * margin
            if block % alignment or size % block or side >= size:
                continue
            blocks = size // block
            touched = np.argwhere(holes.reshape(blocks, block, blocks, block).any(axis=(1, 3)))
            cost = len(touched) * side**2
            # Many small windows cost a little more per pixel than one large crop.
            if cost < HEAD_BLOCK_ADVANTAGE * best_cost:
                best_cost, best = cost, []
                for row, column in touched * block:
                    top = min(max(row - margin, 0), size - side)
                    left = min(max(column - margin, 0), size - side)
                    window = (slice(top, top + side), slice(left, left + side))
                    inner = (
                        slice(row - top, row - top + block),
                        slice(column - left, column - left + block),
                    )
                    best.append((window, inner))
        return best

    def _head_crop(self, holes):
        """`(rows, columns)` slices around the holes plus the margin, aligned; None if none."""
        hole_rows = np.flatnonzero(holes.any(axis=1))
        if hole_rows.size == 0:
            return None
        hole_columns = np.flatnonzero(holes.any(axis=0))
        margin = self.monte_carlo_spec.crop_margin
        alignment = self.monte_carlo_spec.crop_alignment

        def bounds(first, last):
            start = max(0, (first - margin) // alignment * alignment)
            stop = min(self.tile_size, -(-(last + 1 + margin) // alignment) * alignment)
            return slice(int(start), int(stop))

        return bounds(hole_rows[0], hole_rows[-1]), bounds(hole_columns[0], hole_columns[-1])

    def _check_tile(self, image, known):
        image = np.ascontiguousarray(image, dtype=np.float32)
        known = np.ascontiguousarray(known, dtype=np.float32)
        size = self.tile_size
        if image.shape != (size, size, 3) or known.shape != (size, size, 1):
            raise ValueError(
                f"a tile is a ({size}, {size}, 3) image and a ({size}, {size}, 1) mask, got "
                f"{image.shape} and {known.shape}."
            )
        return image, known

    def _trunk_runner(self):
        if self._trunk is None:
            self._trunk = self._runner(self.card.files.litert_trunk or LITERT_TRUNK_NAME)
        return self._trunk

    def _head_graph(self):
        if self._head is None:
            path = self._model_file(self.card.files.litert_head or LITERT_HEAD_NAME)
            self._head = _HeadGraph(path, self.threads)
        return self._head

    def _runner(self, file_name):
        path = self._model_file(file_name)
        interpreter = Interpreter(model_path=str(path), num_threads=self.threads)
        return interpreter.get_signature_runner()

    def _model_file(self, file_name):
        path = self.model_dir / file_name
        if not path.is_file():
            raise ValueError(f"{path} is missing: export the model again (holefill export).")
        return path


class _HeadGraph:
    """The Monte-Carlo head on a bare LiteRT interpreter, fed in place.

    A signature runner copies every input on every call and resizes them whenever it is
    called; here the shapes are set once per tile, the draw-independent inputs written
    once, and the keep masks drawn straight into LiteRT's input buffers.
    """

    def __init__(self, path, threads):
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        runner = self.interpreter.get_signature_runner()
        details = runner.get_input_details()
        self.indices = {name: detail["index"] for name, detail in details.items()}
        self.channels = {
            name: int(detail["shape_signature"][-1]) for name, detail in details.items()
        }
        (output,) = runner.get_output_details().values()
        self.output = output["index"]
        del runner  # it holds the interpreter, which then refuses raw buffer access
        self.shapes = None

    def prepare(self, shapes):
        """Sizes the inputs (`{name: shape}`); keeps their contents if nothing changed."""
        shapes = {name: tuple(int(side) for side in shape) for name, shape in shapes.items()}
        if shapes != self.shapes:
            for name, shape in shapes.items():
                self.interpreter.resize_tensor_input(self.indices[name], shape, strict=True)
            self.interpreter.allocate_tensors()
            self.shapes = shapes

    def input_view(self, name):
        """A writable view of an input's buffer; drop it before `run`."""
        return self.interpreter.tensor(self.indices[name])()

    def run(self):
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


def fill_keep_mask(out, rate, rng):
    """Fills `out` (float32) with independent Bernoulli(1 - rate) / (1 - rate) values.

    Exactly Keras `Dropout`'s keep mask, element by element (per pixel *and* channel:
    one draw per pixel shared by its channels would be spatial dropout, another
    distribution). One random byte per element instead of a float: with
    `rate * 256 = whole + fraction`, a byte below `whole` drops, above keeps, and the
    1/256 of bytes equal to `whole` drop with probability `fraction`, so an element drops
    with probability `(whole + fraction) / 256 = rate` exactly (Keras compares a float32
    uniform, a resolution of 2**-24). Three times less random data and a third less time
    than `rng.random(dtype=float32) >= rate`.
    """
    threshold = rate * 256.0
    whole = int(threshold)
    bits = np.frombuffer(rng.bytes(out.size), np.uint8).reshape(out.shape)
    kept = bits > whole
    ties = np.flatnonzero(bits == whole)
    kept.reshape(-1)[ties] = rng.random(ties.size) >= threshold - whole
    np.multiply(kept, np.float32(1.0 / (1.0 - rate)), out=out)
    return out


def _area(window):
    rows, columns = window
    return (rows.stop - rows.start) * (columns.stop - columns.start)


def _window_shape(window):
    rows, columns = window
    return rows.stop - rows.start, columns.stop - columns.start


def _scaled(window, stride):
    return slice(window.start // stride, window.stop // stride)


@dataclasses.dataclass(frozen=True)
class _HeadPlan:
    """The batching of the Monte-Carlo head's runs (`LiteRTModel._head_plan`)."""

    runs: int
    calls: int
    batch: int
    count: int
    window_shape: tuple
    keep_names: tuple
    shapes: dict
