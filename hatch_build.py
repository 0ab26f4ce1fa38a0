"""Build hook: compile the rewriter's scanner (``gateway/pages/scanner.py``) with Cython,
and minify the banner's scripts (``gateway/banner/minify.py``).

The scanner is plain Python; compiled, it makes rewriting uncached pages
several times cheaper. Where no C compiler or Cython is at hand the
package is built without it and the rewriter uses its regular expression:
same output, slower. ``CONSENT_GATEWAY_PURE=1`` skips compiling.

Minified at build time, the banner's scripts need no JavaScript parser in
the workers (each would keep about 8 MiB more); without the file the
workers minify them themselves, as before.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("gateway/pages/scanner.py")
MINIFY = Path("gateway/banner/minify.py")


def compile_scanner(root: Path) -> Path:
    """Compile the scanner next to its source (where editable installs find it); the built file's path."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    with tempfile.TemporaryDirectory() as work:
        extension = Extension("gateway.pages.scanner", [str(root / SOURCE)], extra_compile_args=["-O2"])
        modules = cythonize(
            [extension], build_dir=work, language_level=3, quiet=True, compiler_directives={"binding": False}
        )
        distribution = Distribution({"name": "scanner", "ext_modules": modules, "script_name": "hatch_build.py"})
        command = distribution.get_command_obj("build_ext")
        command.build_temp = os.path.join(work, "temp")
        command.build_lib = os.path.join(work, "lib")
        distribution.run_command("build_ext")
        built = Path(command.get_ext_fullpath("gateway.pages.scanner"))
        target = root / SOURCE.with_name("scanner" + sysconfig.get_config_var("EXT_SUFFIX"))
        # A new file renamed into place: a process that has the old one loaded keeps its copy intact.
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(built, partial)
        os.replace(partial, target)
    return target


def prebuild_banner(root: Path) -> Path:
    """``banner/minified.json``, by ``gateway/banner/minify.py`` loaded alone (the gateway's dependencies
    are not in the build environment)."""
    spec = importlib.util.spec_from_file_location("consent_gateway_minify", root / MINIFY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.prebuild(root / "banner")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name not in ("wheel", "editable") and version != "editable":
            return
        root = Path(self.root)
        try:
            build_data["artifacts"].append(str(prebuild_banner(root).relative_to(root)))
        except Exception as error:  # noqa: BLE001 - the workers minify the scripts themselves then
            print(f"consent-gateway: banner scripts not minified ({type(error).__name__}: {error})", file=sys.stderr)
        if os.environ.get("CONSENT_GATEWAY_PURE") == "1":
            return
        try:
            built = compile_scanner(root)
        except Exception as error:  # noqa: BLE001 - any failure: ship the pure-Python scanner
            print(
                f"consent-gateway: scanner not compiled ({type(error).__name__}: {error}); using Python",
                file=sys.stderr,
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["artifacts"].append(str(built.relative_to(root)))
