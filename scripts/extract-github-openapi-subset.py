#!/usr/bin/env python3
"""Extract the GitHub REST description subset tfctl's contract test uses.

Reads the (method, path) pairs from src/github/routes.rs, takes those
operations from GitHub's full OpenAPI description (api.github.com.json from
npm @octokit/openapi), keeps every component they $ref transitively, drops
the `x-octokit`/`x-github` extensions and examples (size), and writes
tests/fixtures/github/openapi/api.github.subset.json (sorted keys, stable).

usage: scripts/extract-github-openapi-subset.py [FULL_SPEC] [OUT]
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/fixtures/github/openapi/api.github.com.json")
OUT = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests/fixtures/github/openapi/api.github.subset.json"

routes_rs = (ROOT / "src/github/routes.rs").read_text()
routes = re.findall(r'Route::new\(\s*"(\w+)",\s*"([^"]+)",?\s*\)', routes_rs)
if not routes:
    sys.exit("no routes found in src/github/routes.rs")

spec = json.loads(FULL.read_text())


def strip(node):
    """Drop vendor extensions and examples; keep the contract."""
    if isinstance(node, dict):
        return {
            k: strip(v)
            for k, v in node.items()
            if not k.startswith("x-") and k not in ("examples", "example")
        }
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


paths = {}
for method, template in routes:
    item = spec["paths"].get(template)
    if item is None or method.lower() not in item:
        sys.exit(f"{method} {template} is not in {FULL}")
    out = paths.setdefault(template, {})
    if "parameters" in item:
        out["parameters"] = item["parameters"]
    out[method.lower()] = item[method.lower()]
paths = strip(paths)

# Transitive closure of #/components/... references.
components = {}
todo = [paths]
seen = set()
while todo:
    node = todo.pop()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/") and ref not in seen:
            seen.add(ref)
            _, _, kind, name = ref.split("/", 3)
            target = strip(spec["components"][kind][name])
            components.setdefault(kind, {})[name] = target
            todo.append(target)
        todo.extend(node.values())
    elif isinstance(node, list):
        todo.extend(node)

subset = {
    "openapi": spec["openapi"],
    "info": {
        "title": spec["info"]["title"] + " (tfctl subset)",
        "version": spec["info"]["version"],
        "license": spec["info"].get("license"),
        "description": "Operations tfctl calls, extracted by scripts/extract-github-openapi-subset.py "
        "from GitHub's REST description (npm @octokit/openapi 23.0.2, MIT).",
    },
    "servers": spec.get("servers", []),
    "paths": paths,
    "components": components,
}
OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
print(f"{OUT}: {len(routes)} operations, {sum(len(v) for v in components.values())} components, {OUT.stat().st_size} bytes")
