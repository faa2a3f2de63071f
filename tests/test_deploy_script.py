"""`make deploy`'s site publishing and `make destroy`'s bucket emptying, against SeaweedFS
(the CloudFormation, CloudFront and SAM calls need an AWS account)."""

import importlib.util
import json

import pytest

from holefill.twin.functions import REPO_ROOT
from holefill.twin.seaweed import SeaweedFS


def load_deploy_script():
    spec = importlib.util.spec_from_file_location("deploy", REPO_ROOT / "scripts" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deploy = load_deploy_script()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    from holefill.twin.ports import free_port

    seaweed = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"), free_port(), ["http://localhost"])
    seaweed.start()
    try:
        yield seaweed.client()
    finally:
        seaweed.stop()


def web_app(folder, asset_name):
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>Holefill</title>")
    (folder / "assets" / asset_name).write_text("console.log('app')")
    # A local config.json (the twin's) must not reach the bucket.
    (folder / "config.json").write_text('{"apiUrl": "http://localhost:8000"}')
    return folder


def test_publish_site_uploads_the_build_with_its_config_and_deletes_stale_files(s3, tmp_path):
    s3.create_bucket(Bucket="site")
    first = web_app(tmp_path / "first", "index-aaaa.js")
    deploy.publish_site(s3, "site", first, "https://api.example.com/prod")
    second = web_app(tmp_path / "second", "index-bbbb.js")
    # A tab opened before this deploy still finds the assets it lazily loads...
    uploaded, deleted = deploy.publish_site(s3, "site", second, "https://api.example.com/v2")
    assert deleted == []
    # ... until they are older than the days they are kept.
    uploaded, deleted = deploy.publish_site(
        s3, "site", second, "https://api.example.com/v2", keep_old_assets_days=0
    )

    assert uploaded == ["assets/index-bbbb.js", "config.json", "index.html"]
    assert deleted == ["assets/index-aaaa.js"]
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket="site")["Contents"]]
    assert sorted(listed) == uploaded
    config = s3.get_object(Bucket="site", Key="config.json")
    assert json.loads(config["Body"].read()) == {"apiUrl": "https://api.example.com/v2"}
    assert config["CacheControl"] == "no-cache"
    index = s3.head_object(Bucket="site", Key="index.html")
    assert (index["ContentType"], index["CacheControl"]) == ("text/html", "no-cache")
    asset = s3.head_object(Bucket="site", Key="assets/index-bbbb.js")
    assert asset["ContentType"] == "text/javascript"
    assert "immutable" in asset["CacheControl"]


def test_publish_site_refuses_a_folder_without_a_build(s3, tmp_path):
    with pytest.raises(ValueError, match="no web app build"):
        deploy.publish_site(s3, "site", tmp_path, "https://api.example.com/prod")


def test_empty_bucket_deletes_every_version(s3):
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket="versioned", Key="index.html", Body=body)
    s3.put_object(Bucket="versioned", Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket="versioned", Key="gone.txt")  # leaves a delete marker

    assert deploy.empty_bucket(s3, "versioned") == 4
    listed = s3.list_object_versions(Bucket="versioned")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    s3.delete_bucket(Bucket="versioned")  # which S3 refuses unless the bucket is empty


class FakeSession:
    """A boto3 session whose CloudFormation and CloudFront clients are stubbed (botocore's
    Stubber: no account) and whose S3 is SeaweedFS."""

    def __init__(self, s3, region="eu-west-1"):
        import boto3
        from botocore.stub import Stubber

        self.region_name = region
        self.s3 = s3
        self.clients = {
            name: boto3.client(
                name, region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
            )
            for name in ("cloudformation", "cloudfront")
        }
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}
        for stub in self.stubs.values():
            stub.activate()

    def client(self, name):
        return self.s3 if name == "s3" else self.clients[name]


def stack(status, outputs=()):
    return {
        "Stacks": [
            {
                "StackName": "holefill",
                "StackStatus": status,
                "CreationTime": "2026-01-01T00:00:00Z",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs],
            }
        ]
    }


OUTPUTS = [
    ("SiteBucketName", "site-deploy"),
    ("ApiUrl", "https://api.example.com/prod"),
    ("SiteDistributionId", "E123"),
    ("SiteUrl", "https://d123.cloudfront.net"),
]


def test_deploy_recreates_a_rolled_back_stack_and_builds_what_it_deploys(s3, tmp_path, monkeypatch):
    s3.create_bucket(Bucket="site-deploy")
    session = FakeSession(s3)
    session.stubs["cloudformation"].add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    session.stubs["cloudformation"].add_response(
        "describe_stacks", stack("CREATE_COMPLETE", OUTPUTS)
    )
    session.stubs["cloudfront"].add_response(
        "create_invalidation",
        {
            "Invalidation": {
                "Id": "I",
                "Status": "InProgress",
                "CreateTime": "2026-01-01T00:00:00Z",
                "InvalidationBatch": {"Paths": {"Quantity": 0}, "CallerReference": "x"},
            }
        },
    )
    commands = []
    monkeypatch.setattr(deploy, "run", commands.append)
    config = tmp_path / "samconfig.toml"
    config.write_text(
        '[default.deploy.parameters]\nparameter_overrides = "InpaintArchitecture=\\"arm64\\""\n'
    )
    monkeypatch.setattr(deploy, "SAMCONFIG", config)
    monkeypatch.setattr(deploy, "WEB_APP", web_app(tmp_path / "dist", "index-cccc.js"))
    deploy.deploy(session, "holefill", ["--parameter-overrides", "Stage=dev"])

    delete, build, sam_deploy = commands
    assert delete[:2] == ["sam", "delete"] and delete[-2:] == ["--region", "eu-west-1"]
    # sam build sees the overrides that sam deploy uses: the image is built for arm64.
    assert build == [
        "sam",
        "build",
        "--parameter-overrides",
        'InpaintArchitecture="arm64"',
        "Stage=dev",
        "--region",
        "eu-west-1",
    ]
    # An unchanged stack is no failure: the web app is uploaded all the same.
    assert "--no-fail-on-empty-changeset" in sam_deploy
    assert sam_deploy[sam_deploy.index("--region") + 1] == "eu-west-1"
    listed = [item["Key"] for item in s3.list_objects_v2(Bucket="site-deploy")["Contents"]]
    assert "assets/index-cccc.js" in listed
    for stub in session.stubs.values():
        stub.assert_no_pending_responses()


def test_destroy_deletes_a_stack_without_outputs(s3, monkeypatch):
    session = FakeSession(s3)
    session.stubs["cloudformation"].add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    commands = []
    monkeypatch.setattr(deploy, "run", commands.append)
    deploy.destroy(session, "holefill")
    assert commands == [
        ["sam", "delete", "--stack-name", "holefill", "--no-prompts", "--region", "eu-west-1"]
    ]


def test_flags_after_the_double_dash_go_to_sam_deploy_and_one_region_serves_all(monkeypatch):
    called = []
    monkeypatch.setattr(deploy, "deploy", lambda *arguments: called.append(arguments))
    deploy.main(["deploy", "--region", "eu-west-1", "--", "--guided"])
    ((session, stack_name, flags),) = called
    assert (session.region_name, stack_name, flags) == ("eu-west-1", "holefill", ["--guided"])


def test_the_region_comes_from_samconfig_when_none_is_given(tmp_path):
    config = tmp_path / "samconfig.toml"
    config.write_text('[default.deploy.parameters]\nregion = "ap-south-2"\n')
    assert deploy.configured_region(config) == "ap-south-2"
    assert deploy.configured_region(tmp_path / "missing.toml") is None
