"""TOML project files -> frozen attrs classes; every error names file, entry and key path."""

from lakeport.config.loader import ConfigSchema, find_project_file, parse_config, read_toml
from lakeport.config.model import (
    Action,
    ExpectationSpec,
    LakeportSettings,
    PipelineSpec,
    ProjectConfig,
    TableSpec,
    WriteMode,
)

__all__ = [
    "ConfigSchema",
    "Action",
    "ExpectationSpec",
    "LakeportSettings",
    "PipelineSpec",
    "ProjectConfig",
    "TableSpec",
    "WriteMode",
    "find_project_file",
    "parse_config",
    "read_toml",
]
