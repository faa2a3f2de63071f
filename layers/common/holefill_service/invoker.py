"""Starting the inpainting asynchronously: Lambda's `Invoke` with `InvocationType="Event"`.

Lambda queues the event and answers at once; the InpaintFunction runs it later. Where the
function runs is the edge's choice, made with the standard AWS variables: in AWS, Lambda
itself; in the local twin, `AWS_ENDPOINT_URL_LAMBDA` points the same client at the twin's
implementation of the Invoke API, whose workers call the same handler.
"""

import json

import boto3


class InpaintInvoker:
    """Starts the InpaintFunction on one job.

    Args:
        function_name: the InpaintFunction's name or ARN.
        client: a boto3 Lambda client; by default one configured by the environment.
    """

    def __init__(self, function_name, client=None):
        self.function_name = function_name
        self.client = client or boto3.client("lambda")

    def start(self, job_id):
        """Queues the job; raises botocore's errors when Lambda refuses the event."""
        self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps({"job_id": job_id}).encode(),
        )
