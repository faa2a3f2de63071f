"""Writes the API's OpenAPI document, as `GET /openapi.json` answers it, to a file.

`make api-types` turns it into the web app's TypeScript types (openapi-typescript), and
tests/test_contracts.py checks that both files are current. The handler module reads its
settings from the environment: this gives it the stack's defaults, and no AWS call is made.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from holefill.twin.functions import load_function

ENVIRONMENT = {
    "UPLOADS_BUCKET": "uploads",
    "RESULTS_BUCKET": "results",
    "ALLOWED_ORIGIN": "*",
    "JOB_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/holefill-jobs",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "holefill-api",
}


def openapi_document():
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return load_function("api").openapi()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/openapi.py OUTPUT.json")
    document = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    Path(sys.argv[1]).write_text(document)


if __name__ == "__main__":
    main()
