"""Holefill: photo inpainting with partial convolutions.

Conventions shared by every module:

- Images are float32 arrays in [0, 1], channels last (``(H, W, 3)`` or ``(N, H, W, 3)``).
- Masks inside the library are float32 with **1 = known pixel, 0 = hole**, shape
  ``(H, W, 1)`` or ``(N, H, W, 1)`` (the partial-convolution convention). Mask *files*
  use white = hole, as the NVIDIA test masks do; they are converted once, on loading.

Subpackages by job (docs/ARCHITECTURE.md): ``inference`` and ``imaging`` serve, with no
Keras; ``nn``, ``training``, ``evaluation`` and ``export`` import Keras where they need it;
``masks`` is shared; ``cli`` is the command; ``twin`` the local AWS stack. Importing this
package imports neither TensorFlow nor Keras.
"""

__version__ = "0.1.0"
__all__ = ["Inpainter"]


def __getattr__(name):
    # `Inpainter` loads on first use, so that `import holefill` stays instant for training.
    if name == "Inpainter":
        from holefill.inference.inpainter import Inpainter

        return Inpainter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
