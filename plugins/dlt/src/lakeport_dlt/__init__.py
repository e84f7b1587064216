"""lakeport-dlt: pipelines of kind ``dlt`` (Delta Live Tables / Lakeflow declarative pipelines)."""
