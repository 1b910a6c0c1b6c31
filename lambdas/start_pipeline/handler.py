"""Lambda: S3 ObjectCreated events on the landing bucket start the pipeline's state machine.

Environment: STATE_MACHINE_ARN. The logic (dataset routing, run ids, duplicates) is
etl.trigger, the same code the local watcher runs.
"""

import os

from etl.aws.starter import StepFunctionsStarter
from etl.logs import configure_json_logging
from etl.trigger import start_runs_for_event

configure_json_logging()


def handler(event, context):
    starter = StepFunctionsStarter(os.environ["STATE_MACHINE_ARN"])
    return start_runs_for_event(event, starter).as_dict()
