"""The hole-ratio buckets of the NVIDIA irregular-mask test set, by which masks are drawn
for training and results are reported: each is a half-open interval `(lower, upper]`."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class HoleRatioBucket:
    """A hole-ratio interval `(lower, upper]`, as in the NVIDIA irregular-mask test set."""

    lower: float
    upper: float

    @property
    def label(self):
        return f"({round(self.lower * 100)}%,{round(self.upper * 100)}%]"

    @property
    def range(self):
        """The `(lower, upper)` pair that the mask generators take as `hole_ratio`."""
        return (self.lower, self.upper)

    def contains(self, ratio):
        return self.lower < ratio <= self.upper


HOLE_RATIO_BUCKETS = (
    HoleRatioBucket(0.01, 0.1),
    HoleRatioBucket(0.1, 0.2),
    HoleRatioBucket(0.2, 0.3),
    HoleRatioBucket(0.3, 0.4),
    HoleRatioBucket(0.4, 0.5),
    HoleRatioBucket(0.5, 0.6),
)


def hole_ratio(mask):
    """The fraction of hole pixels in a mask (1 = known, 0 = hole), over all its pixels."""
    mask = np.asarray(mask)
    return np.count_nonzero(mask < 0.5) / mask.size


def bucket_of(ratio):
    """The index in `HOLE_RATIO_BUCKETS` of the bucket holding `ratio`, or None if none does."""
    for index, bucket in enumerate(HOLE_RATIO_BUCKETS):
        if bucket.contains(ratio):
            return index
    return None


# The buckets' names, as evaluation reports them.
BUCKET_LABELS = tuple(bucket.label for bucket in HOLE_RATIO_BUCKETS)
