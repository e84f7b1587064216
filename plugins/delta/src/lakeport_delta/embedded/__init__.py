"""Embedded Delta engine: Delta tables through Spark's Python Data Source API and delta-rs.

Used where Spark has no Delta jars (a laptop, CI). The public entry points live in
:mod:`lakeport_delta.embedded.ops`; this package imports nothing heavy so that loading
the plugin stays fast. pyspark, deltalake and pyarrow are imported by the submodules,
which are only imported when a Delta table is actually touched.

Modules:
    ops     public functions (read, write, upsert, delete, read_stream, ...)
    source  the ``lakeport_delta`` DataSource, batch reader and writer
    stream  the streaming reader (offsets are table versions)
    log     delta-rs and ``_delta_log`` helpers shared by the above
    schemas schema comparison and Spark/Arrow/Delta type helpers
"""

SOURCE_NAME = "lakeport_delta"
