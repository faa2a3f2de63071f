"""Evaluation: validation sets by hole-ratio bucket (`validation_sets`), the metrics
(`metrics`, `lpips`), classical baselines (`baselines`), per-bucket reports (`evaluate`),
and the calibration of the uncertainty maps (`uncertainty_calibration`)."""
