"""EtlPipelineStack: every AWS resource of one stage of the pipeline, wired together.

landing (S3) -> start_pipeline (Lambda) -> state machine -> Glue jobs and crawlers -> Athena -> SNS,
with KMS, logs, alarms and a dashboard around it. Outputs name what an operator needs.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from etl_infra.catalog import Catalog
from etl_infra.functions import PipelineFunctions
from etl_infra.glue_jobs import GlueJobs
from etl_infra.monitoring import PipelineMonitoring
from etl_infra.nag import acknowledge_cdk_internals
from etl_infra.notifications import notification_topic
from etl_infra.orchestration import PipelineStateMachine
from etl_infra.security import glue_security_configuration, pipeline_key
from etl_infra.settings import StageSettings
from etl_infra.storage import DataLakeBuckets


class EtlPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StageSettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.key = pipeline_key(self, settings)
        self.buckets = DataLakeBuckets(self, "Buckets", settings=settings)
        self.topic = notification_topic(self, settings, self.key)
        security_configuration = glue_security_configuration(self, settings, self.key)
        self.jobs = GlueJobs(
            self,
            "GlueJobs",
            settings=settings,
            buckets=self.buckets,
            key=self.key,
            security_configuration=security_configuration,
        )
        self.catalog = Catalog(
            self,
            "Catalog",
            settings=settings,
            buckets=self.buckets,
            key=self.key,
            security_configuration=security_configuration,
        )
        self.pipeline = PipelineStateMachine(
            self,
            "Pipeline",
            buckets=self.buckets,
            jobs=self.jobs,
            catalog=self.catalog,
            topic=self.topic,
            key=self.key,
            settings=settings,
        )
        self.functions = PipelineFunctions(
            self,
            "Functions",
            settings=settings,
            landing=self.buckets.landing,
            raw=self.buckets.raw,
            state_machine=self.pipeline.state_machine,
            state_machine_name=self.pipeline.name,
            key=self.key,
        )
        self.monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            settings=settings,
            state_machine=self.pipeline.state_machine,
            start_pipeline=self.functions.start_pipeline,
            functions=[self.functions.start_pipeline, self.functions.generator],
            job_names=[job.name for job in (*self.jobs.jobs, self.jobs.maintain)],
            crawler_names=[crawler.ref for crawler in self.catalog.crawlers],
            workgroup_name=self.catalog.workgroup_name,
            topic=self.topic,
        )
        acknowledge_cdk_internals(self)
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "LandingBucket": self.buckets.landing.bucket_name,
            "ProcessedBucket": self.buckets.processed.bucket_name,
            "QuarantineBucket": self.buckets.quarantine.bucket_name,
            "StateMachineArn": self.pipeline.state_machine.state_machine_arn,
            "NotificationTopicArn": self.topic.topic_arn,
            "GlueDatabase": self.catalog.database_name,
            "AthenaWorkGroup": self.catalog.workgroup_name,
            "GeneratorFunction": self.functions.generator.function.function_name,
            "Dashboard": self.monitoring.dashboard.dashboard_name,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
