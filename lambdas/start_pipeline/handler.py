"""Lambda: S3 ObjectCreated events on the landing bucket start the pipeline's state machine.

Environment: STATE_MACHINE_ARN, RAW_BUCKET (where the contracts in force are kept: a contract dropped
into landing as _contracts/<dataset>.json is checked and put in force here). The logic (dataset routing,
run ids, duplicates, contracts) is etl.trigger, the same code the local watcher runs.
"""

import os

from etl.aws.starter import StepFunctionsStarter, contract_drops
from etl.logs import configure_json_logging
from etl.trigger import start_runs_for_event

configure_json_logging()


def handler(event, context):
    starter = StepFunctionsStarter(os.environ["STATE_MACHINE_ARN"])
    raw_bucket = os.environ.get("RAW_BUCKET")
    return start_runs_for_event(event, starter, contract_drops(raw_bucket) if raw_bucket else None).as_dict()
