"""Builds the `elliptics` Python package: libelliptics.so (Go, c-shared) and
the cffi extension elliptics._native linked against it.

    python3 -m pip install .                          # with PyPI (build deps: setuptools, cffi)
    python3 -m pip install --no-build-isolation .     # offline, with setuptools and cffi installed

Go (https://go.dev/dl/) and a C compiler are needed. ELLIPTICS_LIBRARY=/path/to/libelliptics.so
uses a prebuilt library instead of running `go build`.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
LIB_NAME = "libelliptics.so"


def read_version():
    """The library version, from the Go source of capi (var version = C.CString("X.Y.Z"))."""
    for path in sorted(glob.glob(os.path.join(ROOT, "capi", "*.go"))):
        with open(path, encoding="utf-8") as f:
            m = re.search(r'version\s*=\s*C\.CString\("([0-9][^"]*)"\)', f.read())
        if m:
            return m.group(1)
    with open(os.path.join(ROOT, "capi", "elliptics.h"), encoding="utf-8") as f:
        m = re.search(r'version \("([0-9][^"]*)"\)', f.read())
    return m.group(1) if m else "0.1.0"


class BuildExt(build_ext):
    """Builds libelliptics.so into the package directory, then the cffi extension against it."""

    def run(self):
        pkg_dir = os.path.join(ROOT, "python", "elliptics") if self.inplace else os.path.join(self.build_lib, "elliptics")
        os.makedirs(pkg_dir, exist_ok=True)
        self.build_library(os.path.join(pkg_dir, LIB_NAME))
        for ext in self.extensions:
            if pkg_dir not in ext.library_dirs:
                ext.library_dirs.append(pkg_dir)
        super().run()

    def build_library(self, target):
        prebuilt = os.environ.get("ELLIPTICS_LIBRARY")
        if prebuilt:
            self.announce("copying prebuilt %s" % prebuilt, level=2)
            shutil.copyfile(prebuilt, target)
            return
        go = os.environ.get("GO", "go")
        if shutil.which(go) is None:
            sys.exit("elliptics: Go is required to build libelliptics.so (https://go.dev/dl/), "
                     "or set ELLIPTICS_LIBRARY to a prebuilt library")
        env = dict(os.environ, CGO_ENABLED="1")
        cmd = [go, "build", "-buildmode=c-shared", "-trimpath", "-o", target, "./capi"]
        self.announce("running %s" % " ".join(cmd), level=2)
        subprocess.check_call(cmd, cwd=ROOT, env=env)
        # go build also writes the generated header next to the library; the
        # package ships the library only (capi/elliptics.h is the contract).
        header = os.path.splitext(target)[0] + ".h"
        if os.path.exists(header):
            os.remove(header)


sys.path.insert(0, os.path.join(ROOT, "python"))

setup(
    name="elliptics",
    version=read_version(),
    description="Python client of the Elliptics distributed key/value store (cffi over libelliptics)",
    long_description=open(os.path.join(ROOT, "python", "README.md"), encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    package_dir={"": "python"},
    packages=["elliptics"],
    package_data={"elliptics": ["py.typed"]},
    include_package_data=False,
    zip_safe=False,
    install_requires=["cffi>=1.15"],
    setup_requires=["cffi>=1.15"],
    cffi_modules=["python/elliptics_build.py:ffibuilder"],
    # The per-key loops of bulk calls (plain CPython C API: they build Python
    # objects, which a cffi function cannot return).
    ext_modules=[
        Extension(
            "elliptics._speedups",
            ["python/elliptics/_speedups.c"],
            include_dirs=[os.path.join(ROOT, "capi")],
            depends=[os.path.join(ROOT, "capi", "elliptics.h")],
        )
    ],
    cmdclass={"build_ext": BuildExt},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: Database",
        "Typing :: Typed",
    ],
)
