"""Build hook: compiles ``gateway/_relay.c``, the compiled ``send`` the middleware hands the app.

Optional: without a C compiler (or when it fails) the package is built pure
Python and ``gateway.relay`` falls back to its Python implementation.
"""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileRelay(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        source = Path(self.root, "gateway", "_relay.c")
        target = source.with_name("_relay" + sysconfig.get_config_var("EXT_SUFFIX"))
        compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
        command = [
            *compiler, "-O2", "-fPIC", "-shared", f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(target)
        ]
        try:
            subprocess.run(command, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            self.app.display_warning(f"gateway._relay not compiled, pure Python: {error} {detail.decode(errors='replace')}")
            return
        if version != "editable":  # an editable install finds it next to the source
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            build_data["force_include"][str(target)] = f"gateway/{target.name}"
