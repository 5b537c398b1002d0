#!/usr/bin/env python3
"""Regenerate cekura_openapi_subset.json from Cekura's published openapi.json.

The contract tests check our call-log API against Cekura's own OpenAPI document
(repository cekura-ai/docs, file openapi.json). That file is ~3 MB and mostly prose,
so only the structural part of the call-log / observe / alerts surface is kept:
types, required, enums, nullability, formats, length and range limits, items,
$ref, properties, readOnly/writeOnly, defaults. Descriptions, summaries, titles,
examples, x-* vendor extensions and security blocks are dropped.

Usage:
    git -C <docs-mirror> show <commit>:openapi.json > /tmp/openapi.json
    python tests/contract/data/extract_subset.py /tmp/openapi.json --commit <commit>

Output defaults to cekura_openapi_subset.json next to this script. The output is
deterministic for a given input (sorted keys, fixed indentation).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# Components asked for by name; everything they reference is added transitively.
ROOT_COMPONENTS = [
    "CreateCallLog",
    "CallLogList",
    "CallLogDetail",
    "CallLogListSerializerMetrics",
    "CallLogListSerializerMetricsWithExplanation",
    "Evaluation",
    "PaginatedCallLogListList",
    "MarkMetricVote",
    "MarkMetricVoteCallLogResponse",
    "EvaluateMetrics",
    "RerunEvaluation",
    "PatchedUpdateCallLog",
    "DeleteCallLogs",
]
# Also any component whose name matches this (update / delete / filter / export
# variants of the call-log components, and the alert components).
COMPONENT_NAME_RE = re.compile(
    r"^(Patched)?(Update|Delete|Filter|Export)?CallLogs?.*$|^(Patched)?Alert[A-Za-z]*$"
)

# Call-log and observe routes, v1 and v2 (and the v1 alias call-logs-external),
# provider webhook observe routes and alert routes.
_CL = r"/observability/v[12]/call-logs(-external)?/"
PATH_RES = [
    re.compile(r"^/observability/v[12]/observe/$"),
    re.compile(r"^/observability/v[12]/(vapi|retell|livekit|pipecat)/observe/$"),
    re.compile("^" + _CL + r"$"),
    re.compile("^" + _CL + r"\{id\}/$"),
    re.compile("^" + _CL + r"\{id\}/mark_metric_vote/$"),
    re.compile("^" + _CL + r"delete_call_logs/$"),
    re.compile("^" + _CL + r"filters[a-z_]*/$"),
    re.compile("^" + _CL + r"export_call_logs[a-z_]*/$"),
    re.compile("^" + _CL + r"evaluate_metrics/$"),
    re.compile("^" + _CL + r"rerun_evaluation/$"),
    re.compile(r"^/observability/v[12]/alerts/.*$"),
]
# Paths under the same prefixes that exist but are not part of the subset; listed
# in _source so a reader knows they were seen and left out on purpose.
RELATED_PREFIX_RE = re.compile(
    r"^/observability/v[12]/(call-logs(-external)?|observe|alerts|vapi|retell|livekit|pipecat)/"
)

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")

# JSON-Schema keywords kept on every schema object. Maps of sub-schemas are handled
# separately so a *property* called "description" or "title" is kept.
SCHEMA_SCALAR_KEYS = {
    "type",
    "format",
    "enum",
    "const",
    "nullable",
    "required",
    "readOnly",
    "writeOnly",
    "default",
    "maxLength",
    "minLength",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "multipleOf",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "deprecated",
    "$ref",
}
SCHEMA_SUB_KEYS = {"items", "not", "additionalProperties", "contains"}
SCHEMA_LIST_KEYS = {"allOf", "oneOf", "anyOf", "prefixItems"}
SCHEMA_MAP_KEYS = {"properties", "patternProperties"}


def clean_schema(s):
    if isinstance(s, bool):
        return s
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k in SCHEMA_SCALAR_KEYS:
            out[k] = v
        elif k in SCHEMA_SUB_KEYS:
            out[k] = clean_schema(v)
        elif k in SCHEMA_LIST_KEYS:
            out[k] = [clean_schema(x) for x in v]
        elif k in SCHEMA_MAP_KEYS:
            out[k] = {name: clean_schema(sub) for name, sub in v.items()}
        elif k == "discriminator":
            out[k] = {kk: vv for kk, vv in v.items() if kk in ("propertyName", "mapping")}
        # everything else (description, title, example(s), x-*) is dropped
    return out


def clean_content(content):
    return {
        ctype: ({"schema": clean_schema(media["schema"])} if "schema" in media else {})
        for ctype, media in content.items()
    }


def clean_parameter(p):
    if "$ref" in p:
        return {"$ref": p["$ref"]}
    out = {"name": p["name"], "in": p["in"], "required": bool(p.get("required", False))}
    for k in ("style", "explode", "deprecated"):
        if k in p:
            out[k] = p[k]
    if "schema" in p:
        out["schema"] = clean_schema(p["schema"])
    return out


def clean_operation(op):
    out = {"operationId": op.get("operationId")}
    if op.get("deprecated"):
        out["deprecated"] = True
    if "parameters" in op:
        out["parameters"] = [clean_parameter(p) for p in op["parameters"]]
    if "requestBody" in op:
        rb = op["requestBody"]
        out["requestBody"] = {
            "required": bool(rb.get("required", False)),
            "content": clean_content(rb.get("content", {})),
        }
    out["responses"] = {
        code: ({"content": clean_content(r["content"])} if r.get("content") else {})
        for code, r in op.get("responses", {}).items()
    }
    return out


def clean_path_item(item):
    out = {}
    if "parameters" in item:
        out["parameters"] = [clean_parameter(p) for p in item["parameters"]]
    for m in HTTP_METHODS:
        if m in item:
            out[m] = clean_operation(item[m])
    return out


def collect_refs(obj, acc):
    if isinstance(obj, dict):
        ref = obj.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            acc.add(ref.rsplit("/", 1)[1])
        for v in obj.values():
            collect_refs(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            collect_refs(v, acc)


def extract(doc, commit):
    schemas = doc["components"]["schemas"]
    paths = {
        p: clean_path_item(item)
        for p, item in doc["paths"].items()
        if any(r.match(p) for r in PATH_RES)
    }
    excluded = sorted(p for p in doc["paths"] if RELATED_PREFIX_RE.match(p) and p not in paths)

    wanted = set(ROOT_COMPONENTS) | {n for n in schemas if COMPONENT_NAME_RE.match(n)}
    missing = sorted(n for n in ROOT_COMPONENTS if n not in schemas)
    collect_refs(paths, wanted)
    out_schemas = {}
    todo = sorted(wanted)
    while todo:
        name = todo.pop()
        if name in out_schemas or name not in schemas:
            continue
        out_schemas[name] = clean_schema(schemas[name])
        refs = set()
        collect_refs(out_schemas[name], refs)
        todo.extend(sorted(refs - set(out_schemas)))

    return {
        "_source": {
            "repository": "cekura-ai/docs",
            "path": "openapi.json",
            "commit": commit,
            "extracted": "structural fields only; descriptions and examples removed",
            "openapi": doc.get("openapi"),
            "info_version": doc.get("info", {}).get("version"),
            "generator": "tests/contract/data/extract_subset.py",
            "missing_requested_components": missing,
            "related_paths_not_included": excluded,
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(out_schemas.items()))},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("openapi", type=Path, help="path to Cekura's openapi.json")
    ap.add_argument("--commit", required=True, help="cekura-ai/docs commit the file came from")
    ap.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).with_name("cekura_openapi_subset.json")
    )
    args = ap.parse_args(argv)
    doc = json.loads(args.openapi.read_text(encoding="utf-8"))
    subset = extract(doc, args.commit)
    args.output.write_text(
        json.dumps(subset, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(
        f"{args.output}: {len(subset['paths'])} paths, "
        f"{len(subset['components']['schemas'])} schemas",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
