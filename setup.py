"""The optional compiled part of deltamesh (everything else is in pyproject.toml).

``crdts._speedups`` holds the AWLWWMap codec's hot loops in C. The build is optional: without a
C compiler (or with ``DELTAMESH_PURE=1`` set while installing) the library installs and runs on
its pure-Python code, which the test command checks as well (docs/performance.md).
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("DELTAMESH_PURE", "") in {"", "0"}:
    ext_modules.append(
        Extension(
            "crdts._speedups",
            sources=["crdts/_speedups.c", "crdts/_speedups_pack.c", "crdts/_speedups_absorb.c"],
            optional=True,  # a failed compile leaves the pure-Python path, never a failed install
            extra_compile_args=["-O2"],
        )
    )

setup(ext_modules=ext_modules)
