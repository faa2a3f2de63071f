"""`make deploy` and `make destroy`: the stack and its web app in one command each.

deploy: `sam build` and `sam deploy` (flags after `--` go to `sam deploy`), then the web
app's build goes to the site bucket with a `config.json` naming the API, and CloudFront
forgets the files that keep their names (index.html, config.json). The stack's CORS
allows its own CloudFront domain by default, so one deploy serves the app.
destroy: empties the stack's buckets (every version), then `sam delete`.
Needs AWS credentials, and Docker for the InpaintFunction's image.
"""

import argparse
import json
import mimetypes
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import boto3

REPO_ROOT = Path(__file__).resolve().parents[1]
WEB_APP = REPO_ROOT / "frontend" / "dist"
# Files whose names change with their content may be cached for good; the rest must be
# revalidated, or a deploy would leave browsers on the old app or the old API.
IMMUTABLE_PREFIX = "assets/"
REVALIDATED = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def default_stack_name():
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
    return config["default"]["global"]["parameters"]["stack_name"]


def stack_outputs(cloudformation, stack_name):
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def publish_site(s3, bucket, web_app, api_url):
    """Uploads the build and its config.json, then deletes what the build no longer has.
    Returns (uploaded keys, deleted keys)."""
    if not (web_app / "index.html").is_file():
        raise ValueError(f"{web_app} holds no web app build: run `make frontend/dist/index.html`")
    files = {
        path.relative_to(web_app).as_posix(): path.read_bytes()
        for path in sorted(web_app.rglob("*"))
        if path.is_file() and path.name != "config.json"
    }
    files["config.json"] = json.dumps({"apiUrl": api_url}).encode()
    for key, body in files.items():
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            CacheControl=IMMUTABLE if key.startswith(IMMUTABLE_PREFIX) else REVALIDATED,
        )
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in files
    ]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]]},
        )
    return sorted(files), stale


def empty_bucket(s3, bucket):
    """Deletes every object, version and delete marker: CloudFormation deletes only empty
    buckets. Returns how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": entry["Key"], "VersionId": entry["VersionId"]}
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if entries:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": entries})
            deleted += len(entries)
    return deleted


def run(command):
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def deploy(session, stack_name, sam_deploy_flags):
    run(["sam", "build"])
    run(["sam", "deploy", "--stack-name", stack_name, *sam_deploy_flags])
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    uploaded, deleted = publish_site(
        session.client("s3"), outputs["SiteBucketName"], WEB_APP, outputs["ApiUrl"]
    )
    print(f"web app: {len(uploaded)} files uploaded, {len(deleted)} stale ones deleted")
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["SiteDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 2, "Items": ["/index.html", "/config.json"]},
            "CallerReference": f"holefill-deploy-{time.time_ns()}",
        },
    )
    print(f"the web app: {outputs['SiteUrl']} (the API: {outputs['ApiUrl']})")


def destroy(session, stack_name):
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    s3 = session.client("s3")
    for name in ("SiteBucketName", "UploadsBucketName", "ResultsBucketName"):
        print(f"{outputs[name]}: {empty_bucket(s3, outputs[name])} objects deleted")
    run(["sam", "delete", "--stack-name", stack_name, "--no-prompts"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["deploy", "destroy"])
    parser.add_argument("--stack-name", default=default_stack_name())
    parser.add_argument("--region", help="default: the AWS CLI's configured region")
    parser.add_argument("sam_deploy_flags", nargs="*", help="after --: flags for sam deploy")
    arguments = parser.parse_args(argv)
    session = boto3.Session(region_name=arguments.region)
    if session.region_name is None:
        parser.error("no AWS region: pass --region or set AWS_REGION")
    if arguments.action == "deploy":
        deploy(session, arguments.stack_name, arguments.sam_deploy_flags)
    else:
        destroy(session, arguments.stack_name)


if __name__ == "__main__":
    sys.exit(main())
