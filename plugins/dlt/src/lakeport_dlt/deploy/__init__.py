"""Deploying a dlt pipeline to a Databricks workspace (databricks-sdk) or as an Asset Bundle.

Nothing here imports databricks-sdk at module level: only :mod:`.workspace` needs it, inside functions.
"""
