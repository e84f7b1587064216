"""Streaming query events as dicts, through Spark's own listener bus."""

from __future__ import annotations

import json
import logging
import time

from lakeport.query_events import listen


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_stream(spark, folder, checkpoint):
    query = (
        spark.readStream.schema("id BIGINT").option("maxFilesPerTrigger", 1).json(str(folder))
        .writeStream.format("noop").option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True).start()
    )
    query.awaitTermination()
    return query


def test_events_arrive_as_spark_json_and_stop_when_removed(spark, tmp_path, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    for index, rows in enumerate([3, 2]):
        (folder / f"{index}.json").write_text("".join(json.dumps({"id": i}) + "\n" for i in range(rows)))
    started, progress, terminated = [], [], []

    def broken(event):
        raise RuntimeError("a plugin bug")

    stop = listen(spark, started=started.append, progress=progress.append, terminated=terminated.append)
    stop_broken = listen(spark, progress=broken)
    with caplog.at_level(logging.ERROR, logger="lakeport.query_events"):
        query = run_stream(spark, folder, tmp_path / "cp")
        wait_for(lambda: len(terminated) == 1 and len(progress) >= 2)
    assert query.exception() is None  # a failing callback does not reach the query
    assert "progress event: callback failed" in caplog.text

    run_id = str(query.runId)
    assert [e["runId"] for e in started] == [run_id]
    assert terminated[0]["id"] == str(query.id)
    batches = sorted((p["batchId"], p["numInputRows"]) for p in progress if p["runId"] == run_id)
    assert [b[0] for b in batches] == [0, 1]
    assert sorted(b[1] for b in batches) == [2, 3]

    stop()
    stop_broken()
    (folder / "2.json").write_text(json.dumps({"id": 9}) + "\n")
    again = run_stream(spark, folder, tmp_path / "cp")
    time.sleep(1.0)  # events are asynchronous: give a wrongly kept listener time to be called
    assert str(again.runId) not in {e["runId"] for e in started + progress + terminated}
