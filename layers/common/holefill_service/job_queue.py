"""The job queue: the API sends each job's id to an SQS queue, and the InpaintFunction's
event source takes them from it, at most `InpaintMaxConcurrency` at once.

A queue rather than Lambda's asynchronous invocation, because it caps how many jobs run
at once without reserving concurrency out of the account's (which a new account, quota
10, cannot spare). SQS delivers a message at least once, and again when the invocation
that received it did not return: the job record decides what a delivery does
(`functions/inpaint`). In AWS the client reaches SQS itself; in the local twin,
`AWS_ENDPOINT_URL_SQS` points it at the twin's queue.
"""

import json

import boto3
from botocore.config import Config

from holefill_service.storage import AWS_CLIENT_TIMEOUTS


class JobQueue:
    """Sends jobs to the InpaintFunction.

    Args:
        queue_url: the job queue's URL.
        client: a boto3 SQS client; by default one configured by the environment.
    """

    def __init__(self, queue_url, client=None):
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", config=Config(**AWS_CLIENT_TIMEOUTS))

    def start(self, job_id):
        """Queues the job; raises botocore's errors when SQS refuses the message."""
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message_body(job_id))


def message_body(job_id):
    return json.dumps({"job_id": job_id})


def job_ids(event):
    """The jobs of the messages in an SQS event (the InpaintFunction's, or the dead
    letters')."""
    return [str(json.loads(record["body"])["job_id"]) for record in event["Records"]]
