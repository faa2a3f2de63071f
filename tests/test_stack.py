"""The SAM template, checked by the tools AWS users run, from the tools venv that `make`
builds (`.venv-stack`: their pins conflict with TensorFlow's)."""

import json
import os
import subprocess

import pytest

from holefill.twin.functions import REPO_ROOT

pytestmark = pytest.mark.stack

STACK_BIN = REPO_ROOT / ".venv-stack" / "bin"
TEMPLATE = REPO_ROOT / "template.yaml"
# What `sam package` does before a deploy (code and image URIs in place of local paths),
# then SAM's own translation to plain CloudFormation. cfn-lint on the result sees what
# the plain lint skips, such as a circular dependency between a bucket, its notification
# and a function's policy.
TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1]).read())
for resource in template["Resources"].values():
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::Serverless::Function":
        if properties.get("PackageType") == "Image":
            properties["ImageUri"] = "000000000000.dkr.ecr.us-east-1.amazonaws.com/holefill:ci"
        else:
            properties["CodeUri"] = "s3://holefill-ci/code.zip"
    elif resource["Type"] == "AWS::Serverless::LayerVersion":
        properties["ContentUri"] = "s3://holefill-ci/layer.zip"
written = {name: dict(resource) for name, resource in template["Resources"].items()}
translated = transform(template, {}, NoManagedPolicies())
# SAM names what it generates after the resource it came from (HolefillApi ->
# HolefillApiStage): those inherit its justified checkov skips.
for name, resource in written.items():
    skips = resource.get("Metadata", {}).get("checkov")
    if skips and resource["Type"].startswith("AWS::Serverless::"):
        for generated_name, generated in translated["Resources"].items():
            if generated_name.startswith(name) and generated_name not in written:
                generated.setdefault("Metadata", {}).setdefault("checkov", skips)
print(json.dumps(translated, indent=1))
"""


def run_tool(name, *arguments):
    tool = STACK_BIN / name
    if not tool.exists():
        pytest.fail(f"{tool} is missing: `make test` installs the stack tools into .venv-stack")
    environment = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "BC_SKIP_MAPPING": "TRUE",
    }
    return subprocess.run(
        [str(tool), *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean(result):
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_sam_validate_with_lint():
    assert_clean(run_tool("sam", "validate", "--lint", "--template", str(TEMPLATE)))


def test_cfn_lint():
    assert_clean(run_tool("cfn-lint", str(TEMPLATE)))


@pytest.fixture(scope="module")
def translated_template(tmp_path_factory):
    translation = run_tool("python", "-c", TRANSLATE, str(TEMPLATE))
    assert_clean(translation)
    translated = tmp_path_factory.mktemp("translated") / "translated.json"
    translated.write_text(translation.stdout)
    return translated


def test_cfn_lint_on_the_translated_template(translated_template):
    resources = json.loads(translated_template.read_text())["Resources"]
    assert {"ApiFunction", "InpaintFunction", "HolefillApi"} <= set(resources)
    assert_clean(run_tool("cfn-lint", str(translated_template)))


@pytest.mark.parametrize("translated", [False, True], ids=["sam", "translated"])
def test_checkov_finds_nothing_unjustified(translated, translated_template):
    # Every skip in the template carries its reason inline (Metadata: checkov: skip); the
    # translation shows checkov what SAM generates (stages, permissions, roles).
    result = run_tool(
        "checkov",
        "--file",
        str(translated_template if translated else TEMPLATE),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--output",
        "json",
    )
    assert_clean(result)
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 0, result.stdout
    assert summary["passed"] > 0


def test_what_a_new_account_and_its_region_need(translated_template):
    """Alarm mail that CloudWatch can publish, an account-wide logging role that outlives
    the stack, a WAF refusal the browser can read, names that two regions can share."""
    resources = json.loads(translated_template.read_text())["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}, "not the AWS-managed SNS key"
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    publisher = next(
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    )
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(publisher["Action"])
    for name in ("ApiGatewayLoggingRole", "ApiGatewayAccount"):
        assert (
            resources[name]["DeletionPolicy"] == resources[name]["UpdateReplacePolicy"] == "Retain"
        )
    (rule,) = resources["ApiWebAcl"]["Properties"]["Rules"]
    headers = rule["Action"]["Block"]["CustomResponse"]["ResponseHeaders"]
    assert {header["Name"] for header in headers} == {"Retry-After", "Access-Control-Allow-Origin"}
    oac = resources["SiteOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert "${AWS::Region}" in json.dumps(oac["Name"])
    (expiry,) = resources["SiteBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert expiry["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    access_logs = resources["ApiAccessLogs"]["Properties"]
    assert access_logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_alarms_watch_every_function_and_the_api(translated_template):
    resources = json.loads(translated_template.read_text())["Resources"]
    watched = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        (first, *_) = properties["Dimensions"]
        watched.add((properties["MetricName"], json.dumps(first["Value"])))
    for function in ("InpaintFunction", "ApiFunction", "JobFailedFunction"):
        assert ("Errors", json.dumps({"Ref": function})) in watched, function
    for queue in ("JobQueue", "JobDeadLetters"):
        assert any(f'"{queue}"' in dimension for metric, dimension in watched), queue
    assert any(metric == "5XXError" for metric, _ in watched)
    timeout = resources["ApiFunction"]["Properties"]["Timeout"]
    assert 15 < timeout < 29, "past S3's worst case, under API Gateway's 29 s"


def test_a_per_ip_limit_under_wafs_least_is_refused_before_the_deploy(translated_template):
    template = json.loads(translated_template.read_text())
    (rule,) = template["Rules"].values()
    (assertion,) = rule["Assertions"]
    refused, _ = assertion["Assert"]["Fn::Not"][0]["Fn::Contains"]
    assert refused == [str(limit) for limit in range(1, 10)]
    assert template["Parameters"]["PerIpRequestsPer5Minutes"]["MinValue"] == 0


def test_the_job_queue_caps_the_inpainting_without_reserving_and_outlasts_a_job(
    translated_template,
):
    """The numbers that the queue, the function, the settings and the twin share."""
    from holefill.twin import twin
    from holefill_service.settings import Settings

    template = json.loads(translated_template.read_text())
    resources = template["Resources"]
    inpaint = resources["InpaintFunction"]["Properties"]
    (mapping,) = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
        and resource["Properties"]["FunctionName"] == {"Ref": "InpaintFunction"}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["JobQueue", "Arn"]}
    assert mapping["BatchSize"] == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "InpaintMaxConcurrency"}}
    assert template["Parameters"]["InpaintMaxConcurrency"]["MinValue"] == 2, "SQS's least"
    assert "EventInvokeConfig" not in resources["InpaintFunction"]["Properties"]

    queue = resources["JobQueue"]["Properties"]
    defaults = Settings(uploads_bucket="u", results_bucket="r")
    assert inpaint["Timeout"] == defaults.inpaint_timeout_seconds
    assert queue["MessageRetentionPeriod"] == defaults.queue_seconds
    # A message comes back only once its job's deadline has passed: the run that took it
    # cannot still be going when the InpaintFunction fails the job.
    assert queue["VisibilityTimeout"] > defaults.job_deadline_seconds
    assert queue["VisibilityTimeout"] == twin.QUEUE_VISIBILITY_SECONDS
    assert queue["RedrivePolicy"]["maxReceiveCount"] == twin.QUEUE_MAX_RECEIVES
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["JobDeadLetters", "Arn"]
    }
    environment = resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["JOB_QUEUE_URL"] == {"Ref": "JobQueue"}
    assert resources["ApiFunction"]["Properties"]["Timeout"] == twin.API_TIMEOUT_SECONDS
