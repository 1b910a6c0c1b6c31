"""Alarms, failure events and the dashboard; every alarm and failure event goes to the SNS topic.

- Step Functions: failed and timed-out executions (CloudWatch alarms).
- Glue: a job run that ends FAILED / TIMEOUT / ERROR and a crawler that fails (EventBridge rules on
  Glue's state-change events; Glue has no per-run failure metric to alarm on).
- Lambda: errors of both functions, and records start_pipeline could not start (a metric filter on
  its JSON log lines, because the handler reports a bad record instead of raising).
- Dashboard: executions started/succeeded/failed, execution time, Lambda invocations/errors,
  start failures, Glue job elapsed time / failed tasks / S3 bytes, Athena bytes scanned, alarm states.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from etl_infra.functions import FunctionWithRole
from etl_infra.settings import StageSettings

PERIOD = Duration.minutes(5)
GLUE_FAILED_STATES = ["FAILED", "TIMEOUT", "ERROR"]
START_FAILURES_PATTERN = '{ $.outcome = "failed" }'  # etl.trigger logs one JSON line per record


class PipelineMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StageSettings,
        state_machine: sfn.StateMachine,
        start_pipeline: FunctionWithRole,
        functions: Sequence[FunctionWithRole],
        job_names: Sequence[str],
        crawler_names: Sequence[str],
        workgroup_name: str,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._topic_action = cw_actions.SnsAction(topic)
        self.namespace = f"EtlPipeline/{settings.stage}"
        self.alarms: list[cloudwatch.Alarm] = [
            self._alarm("ExecutionsFailed", state_machine.metric_failed(period=PERIOD), "Pipeline executions failed"),
            self._alarm(
                "ExecutionsTimedOut", state_machine.metric_timed_out(period=PERIOD), "Pipeline executions timed out"
            ),
        ]
        for item in functions:
            name = item.function.node.id
            self.alarms.append(
                self._alarm(f"{name}Errors", item.function.metric_errors(period=PERIOD), f"Lambda {name} errors")
            )
        start_failures = logs.MetricFilter(
            self,
            "StartFailuresFilter",
            log_group=start_pipeline.log_group,
            filter_pattern=logs.FilterPattern.literal(START_FAILURES_PATTERN),
            metric_namespace=self.namespace,
            metric_name="StartFailures",
            metric_value="1",
            default_value=0,
        ).metric(period=PERIOD, statistic="Sum")
        self.alarms.append(
            self._alarm("StartFailures", start_failures, "Landing objects whose pipeline execution could not start")
        )

        self.glue_job_failures = events.Rule(
            self,
            "GlueJobFailed",
            description="A pipeline Glue job run ended FAILED, TIMEOUT or ERROR",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": list(job_names), "state": GLUE_FAILED_STATES},
            ),
            targets=[targets.SnsTopic(topic, message=events.RuleTargetInput.from_text(
                f"Glue job {events.EventField.from_path('$.detail.jobName')} run "
                f"{events.EventField.from_path('$.detail.jobRunId')} ended "
                f"{events.EventField.from_path('$.detail.state')}: {events.EventField.from_path('$.detail.message')}"
            ))],
        )  # fmt: skip
        self.glue_crawler_failures = events.Rule(
            self,
            "GlueCrawlerFailed",
            description="A pipeline Glue crawler failed",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Crawler State Change"],
                detail={"crawlerName": list(crawler_names), "state": ["Failed"]},
            ),
            targets=[targets.SnsTopic(topic)],
        )
        self.dashboard = self._dashboard(settings, state_machine, functions, start_failures, job_names, workgroup_name)

    def _alarm(self, construct_id: str, metric: cloudwatch.Metric, description: str) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._topic_action)
        return alarm

    def _dashboard(
        self,
        settings: StageSettings,
        state_machine: sfn.StateMachine,
        functions: Sequence[FunctionWithRole],
        start_failures: cloudwatch.IMetric,
        job_names: Sequence[str],
        workgroup_name: str,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=settings.name("pipeline"))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=PERIOD, label="started"),
                    state_machine.metric_succeeded(period=PERIOD, label="succeeded"),
                    state_machine.metric_failed(period=PERIOD, label="failed"),
                    state_machine.metric_timed_out(period=PERIOD, label="timed out"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution time (ms)",
                left=[
                    state_machine.metric_time(period=PERIOD, statistic="p50", label="p50"),
                    state_machine.metric_time(period=PERIOD, statistic="Maximum", label="max"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda invocations and errors",
                left=[f.function.metric_invocations(period=PERIOD) for f in functions],
                right=[f.function.metric_errors(period=PERIOD) for f in functions],
                width=12,
            ),
            cloudwatch.GraphWidget(title="Landing objects not started", left=[start_failures], width=12),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Glue job elapsed time (ms)",
                left=[_glue_metric(job, "glue.driver.aggregate.elapsedTime", "count") for job in job_names],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Glue failed tasks",
                left=[_glue_metric(job, "glue.driver.aggregate.numFailedTasks", "count") for job in job_names],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Glue S3 bytes read / written",
                left=[_glue_metric(job, "glue.ALL.s3.filesystem.read_bytes", "gauge") for job in job_names],
                right=[_glue_metric(job, "glue.ALL.s3.filesystem.write_bytes", "gauge") for job in job_names],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Athena bytes scanned",
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/Athena",
                        metric_name="ProcessedBytes",
                        dimensions_map={"WorkGroup": workgroup_name},
                        statistic="Sum",
                        period=PERIOD,
                    )
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=12),
        )
        return dashboard


def _glue_metric(job_name: str, metric_name: str, metric_type: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="Glue",
        metric_name=metric_name,
        dimensions_map={"JobName": job_name, "JobRunId": "ALL", "Type": metric_type},
        statistic="Sum",
        period=PERIOD,
        label=job_name,
    )
