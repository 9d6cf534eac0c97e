"""The Python snippet of the top-level README runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[3]


def python_blocks(path: Path) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```$", path.read_text(), flags=re.S | re.M)


def test_readme_snippet_runs() -> None:
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) == 1, "the README has one Python snippet"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})


def test_package_readme_snippets_run() -> None:
    blocks = python_blocks(ROOT / "bindings" / "python" / "README.md")
    assert blocks, "bindings/python/README.md shows the package in use"
    for block in blocks:
        exec(compile(block, "bindings/python/README.md", "exec"), {"__name__": "readme"})
