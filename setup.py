"""Build hook: compiles predictive pacing's arithmetic (``dialer_domain.rules.pacing_math``) to C
with mypyc (ADR 0043). Where no C compiler works, or ``DIALER_PURE_PYTHON=1``, the module is left
as plain Python: the same source, the same decisions, slower. Everything else is in pyproject.toml."""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

COMPILED = ["src/dialer_domain/rules/pacing_math.py"]


class OptionalBuildExt(build_ext):
    """Builds the compiled module if it can; otherwise says so and installs the plain Python (the
    module and its mypyc runtime go together: if either fails, neither is installed)."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, CompileError, ExecError, LinkError, PlatformError, OSError) as exc:
            print(f"dialer-core: pacing's arithmetic stays plain Python (the mypyc build failed: {exc})", file=sys.stderr)
            self.extensions = []  # nothing built, nothing to install


def ext_modules() -> list[Extension]:
    if os.environ.get("DIALER_PURE_PYTHON") == "1":
        return []
    try:
        from mypyc.build import mypycify

        return mypycify(COMPILED, opt_level="3")
    except (Exception, SystemExit) as exc:  # mypyc missing, or its type check refused the module
        print(f"dialer-core: pacing's arithmetic stays plain Python (mypyc could not translate it: {exc!r})", file=sys.stderr)
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
