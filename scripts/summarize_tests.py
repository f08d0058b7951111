"""Adds up the results the test suite left in a reports folder and prints 'tests: N passed, N failed'.

Inputs: <name>.json (gtest JSON) with <name>.rc (exit status), pytest.xml (JUnit), <name>.fuzzrc (fuzzer
exit status). A test binary that exited non-zero without reporting a failure (a sanitizer abort, a crash)
counts as one failure, so a crash can never pass as success.
"""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

reports = pathlib.Path(sys.argv[1])
passed = failed = 0
failures = []

for rc_file in sorted(reports.glob("*.rc")):
    name = rc_file.stem
    rc = int(rc_file.read_text().strip() or 1)
    js = reports / f"{name}.json"
    p = f = 0
    if js.exists():
        data = json.loads(js.read_text())
        for suite in data.get("testsuites", []):
            for t in suite.get("testsuite", []):
                if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
                    continue
                if t.get("failures"):
                    f += 1
                    failures.append(f"{name}: {suite['name']}.{t['name']}")
                else:
                    p += 1
    if rc != 0 and f == 0:
        f += 1
        failures.append(f"{name}: exited with status {rc} (crash or sanitizer report; see {name}.log)")
    passed += p
    failed += f

xml = reports / "pytest.xml"
if xml.exists():
    root = ET.parse(xml).getroot()
    for case in root.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(f"pytest: {case.get('classname')}::{case.get('name')}")
        else:
            passed += 1
elif any(pathlib.Path("tests/python").glob("test_*.py")):
    failed += 1
    failures.append("pytest: no report written")

for rc_file in sorted(reports.glob("*.fuzzrc")):
    if int(rc_file.read_text().strip() or 1) == 0:
        passed += 1
    else:
        failed += 1
        failures.append(f"fuzz: {rc_file.stem} (see {rc_file.stem}.fuzzlog)")

for line in failures:
    print("FAILED", line)
print(f"tests: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
