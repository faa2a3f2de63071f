"""Images as users and datasets give them: decoding and encoding photos and masks the way
they came (`photos`, for serving), float photo arrays for training and evaluation (`arrays`),
and folders of photos (`folders`)."""
