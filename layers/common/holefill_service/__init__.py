"""What Holefill's Lambda functions share: settings, storage keys, job records, S3 helpers,
and the JSON errors the API answers with.

It imports neither `holefill` nor numpy: the API function is a small zip with this layer,
and only the inpainting function's container image holds the model and its runtime.
"""
