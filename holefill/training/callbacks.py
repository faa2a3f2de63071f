"""What a run does at the end of each Keras epoch (one checkpoint interval): the weights
checkpointed, images per second and the loss terms logged, a sample grid drawn, and the
time limit kept."""

import logging
import time
from pathlib import Path

import keras
from PIL import Image

from holefill.imaging.arrays import comparison_grid
from holefill.nn.checkpoints import (
    save_checkpoint,
)

logger = logging.getLogger(__name__)


class ThroughputMeter(keras.callbacks.Callback):
    """Adds `images_per_second` to the logs, timed from each epoch's first finished step.

    Starting the clock after the first step leaves compilation out of the figure.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.steps = None, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.started is None:
            self.started = time.perf_counter()
        else:
            self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.started
        if logs is not None and self.steps:
            logs["images_per_second"] = self.steps * self.batch_size / elapsed


class CheckpointWriter(keras.callbacks.Callback):
    def __init__(self, directory, metadata):
        super().__init__()
        self.directory = directory
        self.metadata = metadata

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        groups = {
            group: _values(variables)
            for group, variables in self.model.checkpoint_variables().items()
        }
        save_checkpoint(self.directory, step, groups, self.metadata)


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch (checkpoint) after `minutes`."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = minutes * 60

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.started >= self.seconds:
            self.model.stop_training = True


class SampleGridWriter(keras.callbacks.Callback):
    """Every `every` steps, a PNG with rows of input, mask, output and truth."""

    def __init__(self, directory, inputs, truth, every):
        super().__init__()
        self.directory = Path(directory)
        self.inputs = inputs
        self.truth = truth
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every:
            return
        output = keras.ops.convert_to_numpy(
            keras.ops.cast(self.model.generator(self.inputs, training=False), "float32")
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        grid = comparison_grid(self.inputs["image"], self.inputs["mask"], [output], self.truth)
        Image.fromarray(grid).save(self.directory / f"step-{step:08d}.png")


class TensorBoardWriter(keras.callbacks.Callback):
    """Scalars of every epoch for TensorBoard, without needing TensorFlow (tensorboardX)."""

    def __init__(self, directory):
        super().__init__()
        self.directory = str(directory)
        self.writer = None

    def on_train_begin(self, logs=None):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(self.directory)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        for name, value in (logs or {}).items():
            self.writer.add_scalar(name, float(value), step)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


def _values(variables):
    return {variable.path: keras.ops.convert_to_numpy(variable.value) for variable in variables}
