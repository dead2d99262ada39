#!/usr/bin/env python3
"""Checks the `run:` blocks of actions and workflows beyond what actionlint and zizmor do.

Usage: lint_run_blocks.py ACTION.yml... -- WORKFLOW.yml...

- No `${{ ... }}` inside any `run:` text: values reach the shell through `env:` only,
  so no input, payload field or output can become shell code.
- Each composite action's `run:` blocks pass shellcheck (actionlint does this for
  workflows, not for action.yml).
- A composite action's last step `exec`s, so cancellation signals reach tfctl.
Prints one `file: message` line per finding; exits 1 on any.
"""
import os
import subprocess
import sys
import tempfile

import yaml


def steps_of(doc):
    """(where, step) for every step of a workflow or a composite action."""
    runs = doc.get("runs") or {}
    for i, step in enumerate(runs.get("steps") or []):
        yield f"runs.steps[{i}]", step
    for job_id, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate((job or {}).get("steps") or []):
            yield f"jobs.{job_id}.steps[{i}]", step


def main(argv):
    if "--" in argv:
        split = argv.index("--")
        actions, workflows = argv[:split], argv[split + 1 :]
    else:
        actions, workflows = argv, []
    findings = []
    for path in actions + workflows:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for where, step in steps_of(doc):
            run = step.get("run")
            if run is not None and "${{" in run:
                findings.append(f"{path}: {where}: `${{{{ }}}}` inside run: (pass it through env:)")
    for path in actions:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        steps = (doc.get("runs") or {}).get("steps") or []
        for i, step in enumerate(steps):
            run = step.get("run")
            if run is None:
                continue
            shell = step.get("shell", "")
            if shell != "bash":
                findings.append(f"{path}: runs.steps[{i}]: shell is `{shell}`, expected `bash`")
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as tmp:
                tmp.write("#!/usr/bin/env bash\nset -eo pipefail\n" + run + "\n")
            try:
                out = subprocess.run(
                    ["shellcheck", "--severity=style", "--format=gcc", tmp.name],
                    capture_output=True,
                    text=True,
                )
            finally:
                os.unlink(tmp.name)
            for line in out.stdout.splitlines():
                findings.append(f"{path}: runs.steps[{i}]: {line.split(':', 3)[-1].strip()}")
        if steps and (doc.get("runs") or {}).get("using") == "composite":
            last = steps[-1].get("run", "")
            if not last.lstrip().startswith("exec "):
                findings.append(f"{path}: the last step must `exec` tfctl so signals reach it")
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
