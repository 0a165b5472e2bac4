#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""runlog's histograms equal numpy.histogram's on the same samples: counts exactly, edges to the
last bit. Usage: histogram_vs_numpy.py <histogram_dump executable>"""
import json
import subprocess
import sys

import numpy

out = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
failures = 0
for number, line in enumerate(out.splitlines(), 1):
    case = json.loads(line)
    counts, edges = numpy.histogram(numpy.array(case["samples"], dtype=float), bins=case["bins"])
    ours = case["histogram"]
    if ours["values"] != counts.tolist() or ours["bins"] != edges.tolist():
        failures += 1
        print(f"case {number} ({case['bins']} bins): runlog {ours} numpy {counts.tolist()} {edges.tolist()}")
print(f"{number} histograms compared with numpy {numpy.__version__}: {failures} differ")
sys.exit(1 if failures else 0)
