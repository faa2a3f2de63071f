"""`make deploy` and `make destroy`: the stack and its web app in one command each.

deploy: `sam build` and `sam deploy` (flags after `--` go to `sam deploy`), then the web
app's build goes to the site bucket with a `config.json` naming the API, and CloudFront
forgets the files that keep their names (index.html, config.json). The stack's CORS
allows its own CloudFront domain by default, so one deploy serves the app. An unchanged
stack still gets the web app; a first create that rolled back is deleted and created
again; `sam build` gets the deploy's parameter overrides (samconfig.toml's, as `--guided`
saved them, then the command line's), so that the image is built for the architecture the
stack runs.
destroy: empties the stack's buckets (every version), then `sam delete`; a stack without
outputs (a failed create) is deleted as it is.
One region for every call: `--region`, else samconfig.toml's, else the AWS CLI's.
Needs AWS credentials, and Docker for the InpaintFunction's image.
"""

import argparse
import datetime
import json
import mimetypes
import subprocess
import sys
import time
import tomllib
from itertools import takewhile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[1]
WEB_APP = REPO_ROOT / "frontend" / "dist"
# Files whose names change with their content may be cached for good; the rest must be
# revalidated, or a deploy would leave browsers on the old app or the old API.
IMMUTABLE_PREFIX = "assets/"
REVALIDATED = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
# Hashed assets a deploy no longer has stay this long: a tab opened before it still loads
# its lazy chunks (the HEIC decoder) from them.
KEEP_OLD_ASSETS_DAYS = 7


SAMCONFIG = REPO_ROOT / "samconfig.toml"
# A stack in this state was never created: it can only be deleted.
ROLLED_BACK = "ROLLBACK_COMPLETE"


def samconfig(section, path=None):
    """`[default.<section>.parameters]` of samconfig.toml (empty where there is none)."""
    path = path or SAMCONFIG
    config = tomllib.loads(path.read_text()) if path.is_file() else {}
    return config.get("default", {}).get(section, {}).get("parameters", {})


def default_stack_name():
    return samconfig("global")["stack_name"]


def configured_region(path=None):
    """The region samconfig.toml names (as `sam deploy --guided` saves it), or None."""
    return samconfig("deploy", path).get("region") or samconfig("global", path).get("region")


def build_overrides(sam_deploy_flags, path=None):
    """The parameter overrides that `sam deploy` will use, for `sam build`: samconfig's,
    then those of the flags (a later value of a name wins, as in `sam deploy`)."""
    overrides = [samconfig("deploy", path).get("parameter_overrides", "")]
    for index, flag in enumerate(sam_deploy_flags):
        if flag == "--parameter-overrides":
            overrides.extend(
                takewhile(lambda value: not value.startswith("--"), sam_deploy_flags[index + 1 :])
            )
        elif flag.startswith("--parameter-overrides="):
            overrides.append(flag.split("=", 1)[1])
    overrides = [value for value in overrides if value]
    return ["--parameter-overrides", *overrides] if overrides else []


def stack_status(cloudformation, stack_name):
    """The stack's status, or None where there is no such stack."""
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stack["StackStatus"]


def stack_outputs(cloudformation, stack_name):
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def publish_site(s3, bucket, web_app, api_url, keep_old_assets_days=KEEP_OLD_ASSETS_DAYS):
    """Uploads the build and its config.json, then deletes what the build no longer has,
    but for hashed assets younger than `keep_old_assets_days`. Returns (uploaded keys,
    deleted keys)."""
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
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=keep_old_assets_days)
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in files
        and (not item["Key"].startswith(IMMUTABLE_PREFIX) or item["LastModified"] < cutoff)
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
    region = ["--region", session.region_name]
    cloudformation = session.client("cloudformation")
    if stack_status(cloudformation, stack_name) == ROLLED_BACK:
        print(f"{stack_name} is {ROLLED_BACK} (its first create failed): deleting it first")
        run(["sam", "delete", "--stack-name", stack_name, "--no-prompts", *region])
    run(["sam", "build", *build_overrides(sam_deploy_flags), *region])
    # An unchanged stack is no failure: the web app may have changed all the same.
    deploy_flags = ["--no-fail-on-empty-changeset", *region, *sam_deploy_flags]
    run(["sam", "deploy", "--stack-name", stack_name, *deploy_flags])
    outputs = stack_outputs(cloudformation, stack_name)
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
        # A stack whose create failed has no outputs, and its buckets are gone with it.
        if name in outputs:
            print(f"{outputs[name]}: {empty_bucket(s3, outputs[name])} objects deleted")
    run(
        [
            "sam",
            "delete",
            "--stack-name",
            stack_name,
            "--no-prompts",
            "--region",
            session.region_name,
        ]
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # What follows `--` is sam deploy's alone, whatever comes before it.
    split = argv.index("--") if "--" in argv else len(argv)
    own, sam_deploy_flags = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["deploy", "destroy"])
    parser.add_argument("--stack-name", default=default_stack_name())
    parser.add_argument(
        "--region", help="default: samconfig.toml's, else the AWS CLI's configured region"
    )
    parser.epilog = "Flags after -- go to sam deploy (e.g. -- --guided)."
    arguments = parser.parse_args(own)
    session = boto3.Session(region_name=arguments.region or configured_region())
    if session.region_name is None:
        parser.error("no AWS region: pass --region or set AWS_REGION")
    if arguments.action == "deploy":
        deploy(session, arguments.stack_name, sam_deploy_flags)
    else:
        destroy(session, arguments.stack_name)


if __name__ == "__main__":
    sys.exit(main())
