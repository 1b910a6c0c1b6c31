"""Lambda: write a synthetic shipping file into the landing bucket (for demos and load tests).

Environment: LANDING_BUCKET, RECORDS (default 1000). The event may override
{"records": N, "seed": S}. The data comes from etl.generator, like `etl generate`.
"""

import os

from etl.generator import upload_to_s3
from etl.logs import configure_json_logging

configure_json_logging()


def handler(event, context):
    event = event or {}
    records = int(event.get("records") or os.environ.get("RECORDS", "1000"))
    return upload_to_s3(os.environ["LANDING_BUCKET"], records, seed=event.get("seed"))
