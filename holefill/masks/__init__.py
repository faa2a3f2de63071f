"""Hole masks: the library's convention (`canvas`), the hole-ratio buckets (`buckets`),
mask files (`files`) and the procedural generators of training (`generator`)."""
