"""Writes the web app's API types (frontend/src/apiTypes.ts) from the API's OpenAPI document.

One interface per schema of `components.schemas`, and the header that carries a job's
secret, so that the app's types are the API's own. `make api-types` runs it;
tests/test_contracts.py checks that the committed file is what it writes.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openapi import openapi_document

OUTPUT = Path(__file__).resolve().parents[1] / "frontend" / "src" / "apiTypes.ts"
# FastAPI-style validation schemas that this API never answers with.
UNUSED = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}
SCALARS = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}


def type_of(schema):
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        return " | ".join(type_of(member) for member in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return "null"
    if kind == "array" and "prefixItems" in schema:
        return f"[{', '.join(type_of(member) for member in schema['prefixItems'])}]"
    if kind == "array":
        return f"{type_of(schema['items'])}[]"
    if kind == "object":
        return f"Record<string, {type_of(schema.get('additionalProperties', {}))}>"
    return SCALARS.get(kind, "unknown")


def comment(text, indent=""):
    lines = " ".join(text.split())
    return f"{indent}/** {lines} */\n"


def declaration(name, schema):
    text = comment(schema["description"]) if "description" in schema else ""
    if "properties" not in schema:
        return text + f"export type {name} = {type_of(schema)};\n"
    required = set(schema.get("required", ()))
    text += f"export interface {name} {{\n"
    for field, property_schema in schema["properties"].items():
        if "description" in property_schema:
            text += comment(property_schema["description"], "  ")
        optional = "" if field in required else "?"
        text += f"  {field}{optional}: {type_of(property_schema)};\n"
    return text + "}\n"


def job_secret_header(document):
    parameters = document["paths"]["/jobs/{job_id}"]["get"]["parameters"]
    (header,) = [parameter for parameter in parameters if parameter["in"] == "header"]
    return header["name"]


def typescript(document):
    schemas = document["components"]["schemas"]
    parts = [
        "// Generated from the API's OpenAPI document by scripts/api_types.py (make api-types):\n"
        "// do not edit; tests/test_contracts.py checks that it is current.\n",
        comment("The header that carries a job's secret: never the URL, which logs keep.")
        + f"export const JOB_SECRET_HEADER = {json.dumps(job_secret_header(document))};\n",
    ]
    parts += [declaration(name, schemas[name]) for name in sorted(schemas) if name not in UNUSED]
    return "\n".join(parts)


def main():
    """Writes the file; with `--check`, says whether it is current instead (exit status 1
    if not)."""
    written = typescript(openapi_document())
    if sys.argv[1:] == ["--check"]:
        if OUTPUT.read_text() != written:
            sys.exit(f"{OUTPUT} is out of date with the API: run `make api-types`")
        return
    OUTPUT.write_text(written)


if __name__ == "__main__":
    main()
