"""Writes the API's OpenAPI document, as `GET /openapi.json` answers it, to a file.

`scripts/api_types.py` (`make api-types`) writes the web app's TypeScript types from it,
and tests/test_contracts.py checks that they are current. The API is built with the
service's default settings and no AWS client: the document needs none.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from holefill.twin.functions import load_function
from holefill_service.settings import Settings


def openapi_document():
    settings = Settings(uploads_bucket="uploads", results_bucket="results")
    api = load_function("api")
    return api.openapi_document(api.create_app(settings, s3=None, job_queue=None))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/openapi.py OUTPUT.json")
    document = json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"
    Path(sys.argv[1]).write_text(document)


if __name__ == "__main__":
    main()
