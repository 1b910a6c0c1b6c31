"""`etl runs` shows a run's and its steps' seconds rounded for a person."""

from __future__ import annotations

from etl.cli import main
from etl.local.lake import Lake
from etl.local.runlog import RunLog, RunRecord, Step


def test_runs_and_steps_show_seconds_to_the_hundredth(tmp_path, capsys):
    runs = RunLog(Lake(tmp_path).system / "runs")
    record = RunRecord(run_id="shipping-run-1", dataset="shipping", source={"key": "shipping/a.json"},
                       status="SUCCEEDED", seconds=14.566813000000002)
    record.steps = [Step("Convert JSON to Parquet", "2026-12-03T08:00:00.000Z", 12.566813000000002, "SUCCEEDED"),
                    Step("Normalize", "2026-12-03T08:00:12.567Z", None, "RUNNING")]
    runs.create(record)

    assert main(["--lake", str(tmp_path), "runs", "--steps"]) == 0

    out = capsys.readouterr().out
    assert "14.57" in out and "12.57" in out
    assert "566813" not in out
    [normalize] = [line for line in out.splitlines() if line.startswith("Normalize")]
    assert normalize.split()[1:3] == ["RUNNING", "-"]
