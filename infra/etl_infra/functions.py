"""The two Lambdas: ``start_pipeline`` (landing ObjectCreated -> execution) and ``generate_shipments``.

start_pipeline is subscribed to the landing bucket's ObjectCreated notifications and may
only start (and look up, to recognise duplicates) executions of the pipeline's state
machine, read contracts dropped under landing's ``_contracts/`` and keep the ones it puts in
force under raw's ``_contracts/``. generate_shipments writes a synthetic file into landing; an EventBridge schedule
can call it, but the rule is created DISABLED (enable it for a demo or a soak test).

The generator needs numpy and faker. They are pip-installed into its bundle from PyPI
during synth, pinned: numpy 2.2.6 is the last release with manylinux2014 wheels, which
Lambda's Python 3.11 (Amazon Linux 2, glibc 2.26) can load. The AWS SDK for pandas
managed layer was the alternative for numpy; it was not chosen because faker would still
need bundling, its ARN differs per region and version, and it adds pandas/pyarrow the
function does not use.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from etl.contracts.store import CONTRACTS_FOLDER
from etl_infra.bundling import RUNTIME, python_code
from etl_infra.iam import acknowledge, allow, grant_objects
from etl_infra.paths import LAMBDAS_DIR
from etl_infra.settings import StageSettings

GENERATOR_REQUIREMENTS = ("numpy==2.2.6", "faker==40.54.0")
GENERATOR_SCHEDULE = events.Schedule.rate(Duration.hours(1))
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
RUNTIME_REASON = (
    "Python 3.11 on purpose: the same interpreter as Glue 5.0 and the project's requires-python, "
    "so the etl package runs identically in the Lambda, the Glue jobs and locally."
)
EXECUTIONS_REASON = (
    "Execution names are run ids derived from each landing object; the grant covers executions of the "
    "pipeline's state machine only."
)
CONTRACTS_REASON = "Contract versions are one object per dataset under _contracts/; the grant is that folder only."
UPLOAD_REASON = "The generator writes new objects with generated names under the landing shipping/ prefix only."


@dataclass(frozen=True)
class FunctionWithRole:
    """A function with the role and log group the stack created for it (to add grants and alarms)."""

    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


class PipelineFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        landing: s3.Bucket,
        raw: s3.IBucket,
        state_machine: sfn.IStateMachine,
        state_machine_name: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.start_pipeline = self._function(
            "StartPipeline",
            name=settings.name("start-pipeline"),
            description="Starts one pipeline execution per landing object (named by run id: duplicates start nothing)",
            code=python_code(LAMBDAS_DIR / "start_pipeline"),
            environment={"STATE_MACHINE_ARN": state_machine.state_machine_arn, "RAW_BUCKET": raw.bucket_name},
            memory_size=256,
            timeout=Duration.seconds(60),
        )
        allow(self.start_pipeline.role, ["states:StartExecution"], [state_machine.state_machine_arn])
        allow(  # etl.aws.starter checks for an earlier execution of the same name before starting
            self.start_pipeline.role,
            ["states:DescribeExecution"],
            [f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{state_machine_name}:*"],
            wildcard_reason=EXECUTIONS_REASON,
        )
        # Contracts dropped into landing (_contracts/<dataset>.json): read there, checked, kept in force in raw.
        grant_objects(self.start_pipeline.role, landing, [f"{CONTRACTS_FOLDER}/"],
                      ["s3:GetObject", "s3:GetObjectVersion"], list_bucket=False, reason=CONTRACTS_REASON)
        grant_objects(self.start_pipeline.role, raw, [f"{CONTRACTS_FOLDER}/"], ["s3:GetObject", "s3:PutObject"],
                      reason=CONTRACTS_REASON)
        landing.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.start_pipeline.function))

        self.generator = self._function(
            "GenerateShipments",
            name=settings.name("generate-shipments"),
            description="Writes a synthetic shipping file into the landing bucket",
            code=python_code(LAMBDAS_DIR / "generate_shipments", GENERATOR_REQUIREMENTS),
            environment={"LANDING_BUCKET": landing.bucket_name, "RECORDS": str(settings.generator_records)},
            memory_size=1024,
            timeout=Duration.minutes(5),
        )
        allow(
            self.generator.role,
            ["s3:PutObject", "s3:AbortMultipartUpload"],
            [landing.arn_for_objects("shipping/*")],
            wildcard_reason=UPLOAD_REASON,
        )
        self.schedule = events.Rule(
            self,
            "GeneratorSchedule",
            rule_name=settings.name("generate-shipments"),
            description="Calls the generator on a schedule; created DISABLED, enable it for a demo or soak test",
            schedule=GENERATOR_SCHEDULE,
            enabled=False,
            targets=[targets.LambdaFunction(self.generator.function, retry_attempts=0)],
        )

    def _function(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        code: lambda_.Code,
        environment: dict[str, str],
        memory_size: int,
        timeout: Duration,
    ) -> FunctionWithRole:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=LOG_RETENTION,
            encryption_key=self._key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        allow(role, ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn])
        function = lambda_.Function(
            self,
            construct_id,
            function_name=name,
            description=description,
            runtime=RUNTIME,
            handler="handler.handler",
            code=code,
            role=role,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.TEXT,  # the handlers already log JSON lines
        )
        acknowledge(function, "AwsSolutions-L1", RUNTIME_REASON)
        return FunctionWithRole(function, role, log_group)
