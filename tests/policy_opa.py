#!/usr/bin/env python3
"""Evaluate Rego policies with the real Go OPA engine (PyPI
opa-golib-python-bindings) so tfctl's regorus verdicts can be compared.

Usage:
  policy_opa.py verdicts MANIFEST.json   -> prints {"results": [...]} as JSON
  policy_opa.py tests POLICY_DIR...     -> prints {"tests": [{package,name,file,passed}]}
  policy_opa.py bench PLAN.json CONTEXT.json POLICY_DIR NAMESPACE... -> prints {"seconds": s, "deny": n, "warn": n}

MANIFEST: {"policies": [dir_or_file...], "namespaces": [...],
           "cases": [{"plan": path, "context": {...data.tfctl...},
                      "data_files": [json files merged into data]}]}
Each result: {"plan": path, "violations": [[ns, rule, msg]...], "warnings": [...]},
sorted like tfctl's Verdict. Exit 3 when the opa_bindings package is missing
(the Rust test turns that into a loud skip).
"""

import json
import os
import sys
import time

try:
    from opa_bindings import OpaEngine, OpaUndefinedError
except ImportError:  # pragma: no cover - reported to the caller
    print("opa_bindings not installed: pip install --ignore-requires-python "
          "'opa-golib-python-bindings>=0.4,<0.5'", file=sys.stderr)
    sys.exit(3)

RULES = ("deny", "violation", "warn")


def rego_files(paths, tests=False):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.endswith(".rego") and (tests or not f.endswith("_test.rego")):
                        out.append(os.path.join(root, f))
        else:
            out.append(p)
    return out


def engine_for(files, context, data_files=()):
    engine = OpaEngine()
    for f in files:
        with open(f, encoding="utf-8") as fh:
            engine.add_policy(f, fh.read())
    for f in data_files:
        with open(f, encoding="utf-8") as fh:
            engine.add_data(json.load(fh))
    engine.add_data({"tfctl": context})
    return engine


def messages(value):
    if isinstance(value, dict) and "msg" not in value:
        items = list(value.keys())
    elif isinstance(value, list):
        items = value
    elif value is None or value is False:
        items = []
    else:
        items = [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append(item["msg"])
        else:
            out.append(json.dumps(item, separators=(",", ":")))
    return out


def verdict(engine, namespaces, plan):
    violations, warnings = set(), set()
    for ns in namespaces:
        for rule in RULES:
            try:
                value = engine.eval_document(f"{ns}.{rule}", plan)
            except OpaUndefinedError:
                continue
            target = warnings if rule == "warn" else violations
            for msg in messages(value):
                target.add((ns, rule, msg))
    return sorted(violations), sorted(warnings)


def cmd_verdicts(manifest_path):
    with open(manifest_path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    files = rego_files(manifest["policies"])
    results = []
    for case in manifest["cases"]:
        with open(case["plan"], encoding="utf-8") as fh:
            plan = json.load(fh)
        engine = engine_for(files, case["context"], case.get("data_files", []))
        v, w = verdict(engine, manifest["namespaces"], plan)
        engine.close()
        results.append({"plan": case["plan"], "violations": v, "warnings": w})
    json.dump({"results": results}, sys.stdout)


def cmd_bench(plan_path, context_path, policy_dir, namespaces):
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    with open(context_path, encoding="utf-8") as fh:
        context = json.load(fh)
    engine = engine_for(rego_files([policy_dir]), context)
    # One query for every namespace and rule, so the input crosses into Go
    # once, as it does once into regorus in tfctl.
    paths = json.dumps([ns.split(".") + [rule] for ns in namespaces for rule in RULES])
    query = f"x := [[p, m] | some p in {paths}; some m in data[p[0]][p[1]][p[2]]]"
    start = time.perf_counter()
    rows = engine.eval_query(query, plan)
    seconds = time.perf_counter() - start
    found = rows[0]["x"] if rows else []
    v = [m for p, m in found if p[-1] != "warn"]
    w = [m for p, m in found if p[-1] == "warn"]
    json.dump({"seconds": seconds, "deny": len(v), "warn": len(w)}, sys.stdout)


def cmd_tests(paths):
    """Like `opa test`: every test_* rule of every package, true = pass."""
    import re
    files = rego_files(paths, tests=True)
    engine = OpaEngine()
    found = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        engine.add_policy(f, text)
        package = re.search(r"^package\s+([\w.]+)", text, re.M).group(1)
        for name in re.findall(r"^(test_\w+)\b(?!\()", text, re.M):
            found.append((package, name, f))
    results = []
    for package, name, f in found:
        try:
            passed = engine.eval_document(f"{package}.{name}") is True
        except OpaUndefinedError:
            passed = False
        results.append({"package": package, "name": name, "file": f, "passed": passed})
    json.dump({"tests": results}, sys.stdout)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "verdicts":
        cmd_verdicts(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "tests":
        cmd_tests(sys.argv[2:])
    elif len(sys.argv) >= 6 and sys.argv[1] == "bench":
        cmd_bench(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
