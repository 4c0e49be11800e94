"""The build backend of the elliptics package: setuptools' own, after making
sure it can find the `wheel` package.

setuptools older than 70.1 builds wheels with the separate `wheel` package.
pip's build isolation installs it from PyPI; with --no-build-isolation on a
machine without PyPI, Debian's python3-wheel (in /usr/lib/python3/dist-
packages) may be the only copy. That directory cannot go on sys.path whole
(its older cffi backend would shadow this interpreter's), so just `wheel` and
its metadata are linked into a temporary directory put at the end of the
path.
"""

import atexit
import glob
import os
import shutil
import sys
import tempfile

_SYSTEM = "/usr/lib/python3/dist-packages"


def _find_wheel() -> None:
    try:
        import wheel  # noqa: F401
        return
    except ImportError:
        pass
    if not os.path.isdir(os.path.join(_SYSTEM, "wheel")):
        return
    d = tempfile.mkdtemp(prefix="elliptics-wheel-")
    atexit.register(shutil.rmtree, d, True)
    for src in [os.path.join(_SYSTEM, "wheel")] + glob.glob(os.path.join(_SYSTEM, "wheel-*-info")):
        os.symlink(src, os.path.join(d, os.path.basename(src)))
    sys.path.append(d)


_find_wheel()

from setuptools.build_meta import *  # noqa: E402,F401,F403
