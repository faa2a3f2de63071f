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
    uploaded, deleted = deploy.publish_site(s3, "site", second, "https://api.example.com/v2")

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
