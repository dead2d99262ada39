#!/usr/bin/env python3
"""Validates tfctl.yaml files against the JSON Schema that `tfctl schema` prints.

Usage: lint_configs.py TFCTL_BIN FILE...
Prints one `file: at <path>: message` line per problem; exits 1 on any.
"""
import json
import subprocess
import sys

import jsonschema
import yaml


def main(argv):
    tfctl, files = argv[0], argv[1:]
    if not files:
        print("lint_configs: no tfctl.yaml given")
        return 1
    schema = json.loads(subprocess.run([tfctl, "schema"], check=True, capture_output=True, text=True).stdout)
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    problems = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            where = "/".join(map(str, error.absolute_path)) or "(top level)"
            print(f"{path}: at {where}: {error.message}")
            problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
