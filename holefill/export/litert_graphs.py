"""The graphs that LiteRT serves, rebuilt in Keras from a trained network of any architecture.

Both rebuilds compute the trained network with its own weights (the layers are shared, not
copied); `holefill.export.litert` converts them and checks them against the original model.

- `serving_model`: the network with two layers expressed in operations that XNNPack,
  LiteRT's CPU backend, runs itself. `PartialConv2D` compares and casts, and nearest
  `UpSampling2D` repeats (which converts to TILE): LiteRT runs those ops one thread at a
  time between XNNPack partitions, which slowed a multi-threaded pass down. (Bilinear
  `UpSampling2D` is rebuilt too, so that it takes inputs of unknown size.)
- `monte_carlo_split`: the network cut where the dropout draw starts to matter. The
  *trunk* holds every layer that does not depend on the draw and runs once per tile; the
  *head* holds the layers from the first dropout on, takes the trunk's tensors plus one
  explicit keep mask per dropout layer, and runs once per Monte-Carlo sample, batched.
  The head is deterministic (the runtime draws the keep masks) and, with keep masks of
  ones, the ordinary model. A head of local layers only (convolutions, pooling, resizing,
  pointwise layers) runs on a crop around the holes; one with a layer that mixes every
  position (the context encoder's channel-wise fully connected layer) runs on whole tiles.
"""

import dataclasses
import functools

import keras
from keras import ops

from holefill.nn.layers import ConcatenateWithMasks, KnownPixelsComposite, PartialConv2D
from holefill.nn.models import count_flops, layer_calls

# Layers whose every output reads only the inputs at its own position (given crops that
# are aligned to every stride, for the poolings).
POSITIONWISE_LAYERS = (
    keras.layers.Dropout,
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Concatenate,
    ConcatenateWithMasks,
    KnownPixelsComposite,
)


class ServingPartialConv2D(keras.layers.Layer):
    """`PartialConv2D` in operations XNNPack runs: no comparison, no cast.

    A binary mask's sum over a window is a whole number, which XNNPack's convolution
    computes exactly (it has no Winograd path). So `minimum(sum, 1)` is the new mask and
    `window / maximum(sum, 1)` the ratio, where `PartialConv2D` compares with 0.5 and adds
    an epsilon: the same values for binary masks, which are all that serving passes.
    Where the sum is 0 every masked input is 0, so the convolution is exactly 0 there and
    the ratio needs no masking.
    """

    def __init__(self, source, **kwargs):
        super().__init__(name=f"{source.name}_serving", **kwargs)
        self.source = source

    def call(self, inputs):
        features, mask = inputs
        source = self.source
        convolution = functools.partial(
            ops.conv,
            strides=source.strides,
            padding=source.padding,
            dilation_rate=source.dilation_rate,
        )
        mask_channels = mask.shape[-1]
        window = float(source.kernel_size[0] * source.kernel_size[1] * mask_channels)
        mask_sum = convolution(mask, ops.ones((*source.kernel_size, mask_channels, 1)))
        new_mask = ops.minimum(mask_sum, 1.0)
        outputs = convolution(features * mask, source.kernel) * (
            window / ops.maximum(mask_sum, 1.0)
        )
        if source.bias is not None:
            outputs = (outputs + source.bias) * new_mask
        return outputs, new_mask


class NearestUpsampling2D(keras.layers.Layer):
    """Nearest-neighbour upsampling as a concatenation and a depth-to-space, both XNNPack ops.

    `depth_to_space` spreads r*r channel groups over an r x r block; with r*r copies of the
    input as the groups, every pixel of the block is the input pixel.
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        copies = ops.concatenate([inputs] * self.factor**2, axis=-1)
        return ops.depth_to_space(copies, self.factor)


class BilinearUpsampling2D(keras.layers.Layer):
    """Bilinear upsampling by an integer factor of inputs whose size is only known when they
    run, as a head's on a crop.

    `UpSampling2D` checks the new size with Python comparisons, which a size that is a
    TensorFlow tensor (an input of unknown height) refuses; TensorFlow's own resize takes
    it, and converts to LiteRT's RESIZE_BILINEAR, with the same half-pixel centres.
    """

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        shape = ops.shape(inputs)
        size = (shape[1] * self.factor, shape[2] * self.factor)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return tf.image.resize(inputs, size, method="bilinear")
        return ops.image.resize(inputs, size, interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (
            batch,
            None if height is None else height * self.factor,
            None if width is None else width * self.factor,
            channels,
        )


@dataclasses.dataclass(frozen=True)
class MonteCarloSplit:
    """A network cut into a draw-independent trunk and a per-sample head.

    Attributes:
        trunk: `{"image", "mask"} -> {name: tensor}`, at the model's fixed input size.
        head: `{name: tensor} -> image`, any batch and, when `crop_margin` is less than
            the tile, any crop size that is a multiple of `crop_alignment` (else the
            whole tile); keep-mask inputs take `Bernoulli(1 - rate) / (1 - rate)` values,
            exactly what Keras `Dropout` multiplies by in training.
        head_inputs: `{name: {"source": "trunk" | "input" | "keep", "stride": s,
            "shared": bool}}`. A head input covers the tile at 1/s of its resolution; a
            shared one takes a batch of 1 whatever the number of samples, as only
            broadcasting operations read it (masks, and the features a dropout multiplies).
        crop_margin: pixels (at tile resolution) around the holes that the head needs for
            its results on the holes to be those of a run on the whole tile; the tile
            size when no crop will do (a head that mixes every position).
        crop_alignment: crops must start and end on multiples of this (the largest stride).
        trunk_flops: floating-point operations of the trunk per tile (as `count_flops`).
        head_flops: floating-point operations of the head per sample on a whole tile.
    """

    trunk: keras.Model
    head: keras.Model
    head_inputs: dict
    crop_margin: int
    crop_alignment: int
    trunk_flops: int
    head_flops: int


def serving_model(model, *, batch_size=1):
    """The model rebuilt with `ServingPartialConv2D`, `NearestUpsampling2D` and
    `BilinearUpsampling2D`.

    Args:
        model: a functional network with a fixed input size.
        batch_size: the fixed batch of the inputs (fixed shapes let LiteRT plan memory once).
    """
    tensors, inputs = _fixed_inputs(model, batch_size)
    for node in layer_calls(model):
        _run_node(node, tensors)
    return keras.Model(inputs, tensors[id(model.outputs[0])], name=f"{model.name}_serving")


def monte_carlo_split(model, *, batch_size=1):
    """Cuts the model where the dropout draw starts to matter; see `MonteCarloSplit`.

    Args:
        model: a functional network with a fixed input size and dropout layers (plain
            `Dropout` or `MonteCarloDropout`: either becomes a keep-mask multiplication).
        batch_size: the fixed batch of the trunk's inputs.

    Raises:
        ValueError: if the model has no dropout layer.
    """
    nodes = layer_calls(model)
    if not any(isinstance(node.operation, keras.layers.Dropout) for node in nodes):
        raise ValueError(
            f"Model {model.name!r} has no dropout layer: Monte-Carlo dropout needs a model "
            "trained with dropout_rate > 0."
        )
    # A node belongs to the head when it is a dropout or reads a tensor the draw changed.
    draw_dependent, head_nodes, trunk_nodes = set(), [], []
    for node in nodes:
        if isinstance(node.operation, keras.layers.Dropout) or any(
            id(tensor) in draw_dependent for tensor in node.input_tensors
        ):
            head_nodes.append(node)
            draw_dependent.update(id(tensor) for tensor in node.outputs)
        else:
            trunk_nodes.append(node)
    masks = _mask_tensors(model, nodes)
    model_inputs = {id(tensor) for tensor in model.inputs}
    frontier = {}  # id -> (name, tensor): what the head reads from outside itself
    for node in head_nodes:
        for tensor in node.input_tensors:
            if id(tensor) not in draw_dependent and id(tensor) not in frontier:
                frontier[id(tensor)] = (_tensor_name(tensor), tensor)

    tile_size = model.inputs[0].shape[1]
    spread = _spread(head_nodes, tile_size)
    alignment = max(
        tile_size // tensor.shape[1]
        for node in head_nodes
        for tensor in (*node.input_tensors, *node.outputs)
    )
    tensors, trunk_inputs = _fixed_inputs(model, batch_size)
    for node in trunk_nodes:
        _run_node(node, tensors)
    trunk_outputs = {
        name: tensors[key] for key, (name, _) in frontier.items() if key not in model_inputs
    }
    trunk = keras.Model(trunk_inputs, trunk_outputs, name=f"{model.name}_trunk")

    def head_input(tensor, name):
        # Free spatial dimensions let the head run on crops; a head that needs the whole
        # tile has fixed ones, which the layers that mix positions need.
        spatial = (None, None) if spread is not None else tuple(tensor.shape[1:3])
        return keras.Input((*spatial, tensor.shape[-1]), name=name)

    head_inputs, head_spec = {}, {}
    tensors = {}
    for key, (name, tensor) in frontier.items():
        head_inputs[name] = head_input(tensor, name)
        readers = [node for node in head_nodes if key in map(id, node.input_tensors)]
        head_spec[name] = {
            "source": "input" if key in model_inputs else "trunk",
            "stride": tile_size // tensor.shape[1],
            "shared": key in masks
            or all(isinstance(node.operation, keras.layers.Dropout) for node in readers),
        }
        tensors[key] = head_inputs[name]
    for node in head_nodes:
        operation = node.operation
        if isinstance(operation, keras.layers.Dropout):
            (features,) = node.input_tensors
            name = f"{operation.name}_keep"
            head_inputs[name] = head_input(features, name)
            head_spec[name] = {
                "source": "keep",
                "stride": tile_size // features.shape[1],
                "shared": False,
            }
            tensors[id(node.outputs[0])] = tensors[id(features)] * head_inputs[name]
            continue
        _run_node(node, tensors)
    head = keras.Model(head_inputs, tensors[id(model.outputs[0])], name=f"{model.name}_head")

    # The same cut through the original layers, which `count_flops` knows how to count.
    trunk_flops = count_flops(
        keras.Model(model.inputs, [tensor for _, tensor in frontier.values()])
    )
    return MonteCarloSplit(
        trunk=trunk,
        head=head,
        head_inputs=head_spec,
        crop_margin=tile_size if spread is None else -(-spread // alignment) * alignment,
        crop_alignment=alignment,
        trunk_flops=trunk_flops,
        head_flops=count_flops(model) - trunk_flops,
    )


def _spread(nodes, tile_size):
    """How far (in tile pixels) a crop's border changes the results of `nodes`: the sum of
    their reaches, a bound on the receptive radius; None if a node mixes every position.
    """
    spread = 0
    for node in nodes:
        operation = node.operation
        stride = tile_size // node.input_tensors[0].shape[1]
        if isinstance(operation, PartialConv2D | keras.layers.Conv2D):
            # An even kernel reaches kernel / 2 on one side, an odd one (kernel - 1) / 2.
            spread += (operation.kernel_size[0] // 2) * operation.dilation_rate[0] * stride
        elif isinstance(operation, keras.layers.UpSampling2D):
            # Bilinear weights also read the neighbouring input pixel; nearest does not.
            spread += stride if operation.interpolation == "bilinear" else 0
        elif isinstance(operation, keras.layers.MaxPooling2D):
            if operation.pool_size != operation.strides:
                return None
        elif not isinstance(operation, POSITIONWISE_LAYERS):
            return None
    return spread


def _mask_tensors(model, nodes):
    """The ids of the tensors on the mask path: the "mask" input, the masks that partial
    convolutions and `ConcatenateWithMasks` return, and what is computed from masks only."""
    masks = {id(tensor) for tensor in model.inputs if tensor.name == "mask"}
    for node in nodes:
        if isinstance(node.operation, PartialConv2D | ConcatenateWithMasks):
            masks.add(id(node.outputs[1]))
        elif all(id(tensor) in masks for tensor in node.input_tensors):
            masks.update(id(tensor) for tensor in node.outputs)
    return masks


def _fixed_inputs(model, batch_size):
    """New inputs like the model's, with a fixed batch, and the map from old to new."""
    if any(dimension is None for tensor in model.inputs for dimension in tensor.shape[1:]):
        raise ValueError(
            "Serving graphs need a model built for a fixed input size: "
            "build the network with input_size=TILE."
        )
    inputs = {
        tensor.name: keras.Input(tensor.shape[1:], batch_size=batch_size, name=tensor.name)
        for tensor in model.inputs
    }
    tensors = {id(tensor): inputs[tensor.name] for tensor in model.inputs}
    return tensors, inputs


def _run_node(node, tensors):
    """Calls a node's layer, or its serving replacement, on the rebuilt tensors."""
    args, kwargs = node.arguments.fill_in(tensors)
    operation = node.operation
    if isinstance(operation, keras.layers.Dropout):
        # Dropout is the identity at inference; the head replaces it before getting here.
        outputs = args[0]
    elif isinstance(operation, PartialConv2D):
        outputs = ServingPartialConv2D(operation)(*args, **kwargs)
    elif _is_square_upsampling(operation, "nearest"):
        factor = operation.size[0]
        outputs = NearestUpsampling2D(factor, name=f"{operation.name}_serving")(*args, **kwargs)
    elif _is_square_upsampling(operation, "bilinear"):
        factor = operation.size[0]
        outputs = BilinearUpsampling2D(factor, name=f"{operation.name}_serving")(*args, **kwargs)
    else:
        outputs = operation(*args, **kwargs)
    for old, new in zip(node.outputs, keras.tree.flatten(outputs), strict=True):
        tensors[id(old)] = new


def _is_square_upsampling(operation, interpolation):
    return (
        isinstance(operation, keras.layers.UpSampling2D)
        and operation.interpolation == interpolation
        and operation.data_format == "channels_last"
        and operation.size[0] == operation.size[1]
    )


def _tensor_name(tensor):
    """A stable name for a tensor: the input's name, or the producing layer's and its index."""
    operation, _, index = tensor._keras_history
    if isinstance(operation, keras.layers.InputLayer):
        return tensor.name
    return f"{operation.name}_output_{index}"
