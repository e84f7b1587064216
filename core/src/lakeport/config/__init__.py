"""TOML project files -> frozen attrs classes; every error names file, entry and key path."""

from lakeport.config.loader import find_project_file, load_config, parse_config, read_toml
from lakeport.config.model import (
    Action,
    Backend,
    ExpectationSpec,
    LakeportSettings,
    PipelineSpec,
    ProjectConfig,
    TableSpec,
    Trigger,
    WriteMode,
)

__all__ = [
    "Action",
    "Backend",
    "ExpectationSpec",
    "LakeportSettings",
    "PipelineSpec",
    "ProjectConfig",
    "TableSpec",
    "Trigger",
    "WriteMode",
    "find_project_file",
    "load_config",
    "parse_config",
    "read_toml",
]
