#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every tests/test_*.cpp must be listed in both tests/CMakeLists.txt and tests/meson.build."""
import pathlib
import sys

tests = pathlib.Path(__file__).resolve().parent.parent / "tests"
sources = sorted(p.name for p in tests.glob("test_*.cpp"))
problems = []
for build in ("CMakeLists.txt", "meson.build"):
    text = (tests / build).read_text()
    problems += [f"{s} is missing from tests/{build}" for s in sources if s not in text]
print("\n".join(problems) or f"{len(sources)} test files listed in both builds")
sys.exit(1 if problems else 0)
