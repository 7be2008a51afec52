"""The JSON Schema of one config document, generated from kinds.py.

Editors (yaml-language-server) apply it to each document of a multi-document file, so
the schema describes one document: any of the seven kinds, chosen by `kind`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from reconciler.config.kinds import (
    FleetDoc,
    ManifestDoc,
    RolloutDoc,
    SourceDoc,
    StateDoc,
    TargetDoc,
    WorkspaceDoc,
)

__all__ = ["SCHEMA_FILE_NAME", "config_json_schema", "schema_text"]

SCHEMA_FILE_NAME = "rlcm.schema.json"

AnyDocument = Annotated[
    WorkspaceDoc | SourceDoc | ManifestDoc | TargetDoc | FleetDoc | RolloutDoc | StateDoc,
    Field(discriminator="kind"),
]


class _Generator(GenerateJsonSchema):
    """Optional keys are shown as their type, not `anyOf [type, null]`: in YAML one omits
    a key rather than writing null, and editors complete the plain type better."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        result = super().default_schema(schema)
        if result.get("default", 0) is None:
            del result["default"]
        return result


def config_json_schema() -> dict[str, Any]:
    """The schema as a dict (deterministic for a given pydantic version)."""
    inner = TypeAdapter(AnyDocument).json_schema(schema_generator=_Generator)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "rlcm config document",
        "description": (
            "One YAML document of an rlcm config: a Workspace, Source, Manifest, Target, "
            "Fleet, Rollout or State, chosen by `kind`. A config is a file or a directory of "
            "*.yaml files, each holding one or more documents separated by ---."
        ),
        **inner,
    }


def schema_text() -> str:
    """The schema file's exact contents."""
    return json.dumps(config_json_schema(), indent=2, ensure_ascii=False) + "\n"
