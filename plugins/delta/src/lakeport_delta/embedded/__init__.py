"""Embedded Delta engine: Delta tables through Spark's Python Data Source API and delta-rs.

Used where Spark has no Delta jars (a laptop, CI). The public entry points live in
:mod:`lakeport_delta.embedded.ops`; this package imports nothing heavy so that loading
the plugin stays fast. pyspark, deltalake and pyarrow are imported by the submodules,
which are only imported when a Delta table is actually touched.

Modules:
    ops         public functions (read, write, delete, read_stream, ...; upsert from merge)
    outcomes    what the writes return (WriteOutcome, UpsertOutcome, DeleteOutcome)
    session     registering the data source on a session, the thread's active session
    merge       upsert (MERGE) with delta-rs and its pyarrow helpers
    source      the ``lakeport_delta`` DataSource and its writers (Spark's API)
    reader      the batch readers (a snapshot, pushed-down filters)
    scan        read helpers shared by the batch and the stream reader
    write_plan  the write plan and the staged files' descriptors (attrs)
    task_writer a task's parquet files, staged inside the table
    commit      the driver's commit of the staged files in one Delta transaction
    stream      the streaming reader (offsets are table versions)
    fastread    Spark's own parquet reader over a snapshot's files
    filters     pushed-down filters: which files they prune
    log         delta-rs and ``_delta_log`` helpers shared by the above
    schemas     schema comparison and Spark/Arrow/Delta type helpers
"""

SOURCE_NAME = "lakeport_delta"
