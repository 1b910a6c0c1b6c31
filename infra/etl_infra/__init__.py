"""AWS CDK (v2, Python) constructs that deploy the ETL pipeline; ``infra/app.py`` is the entry point.

One module per concern: settings (CDK context), storage (buckets), security (KMS key, IAM helper),
notifications (SNS), glue_jobs, catalog (crawlers, Athena), functions (Lambdas), orchestration
(the state machine from ``stepfunctions/pipeline.asl.json``), monitoring, nag (cdk-nag), stack, application.
"""
