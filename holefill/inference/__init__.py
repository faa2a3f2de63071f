"""Serving: the exported LiteRT model on any photo, with no Keras, TensorFlow or JAX.

`inpainter.Inpainter` is the entry point; `strategies` (crop, tile, resize), `seams`
(blending the fill into its surroundings), `uncertainty` and `error_map` (where the fill is
likely wrong) and `runtime` (the LiteRT interpreters) serve it.
"""
