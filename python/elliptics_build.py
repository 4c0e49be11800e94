"""cffi builder of ``elliptics._native`` (API mode, out of line).

The cdef is generated from ``capi/elliptics.h``, the hand-written C ABI of
libelliptics.so: comments, the ``extern "C"`` guard and every preprocessor
line except integer ``#define`` constants are stripped, so the Python
binding always matches the header it is compiled against.

Used by ``setup.py`` (``cffi_modules``); can also be run directly for a
quick in-place build against ``bin/libelliptics.so``.
"""

import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER_DIR = os.path.join(ROOT, "capi")
HEADER = os.path.join(HEADER_DIR, "elliptics.h")

_INT_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(-?(?:0[xX][0-9a-fA-F]+|\d+))\s*$")


def cdef_from_header(text: str) -> str:
    """Returns the declarations of an elliptics.h text as a cffi cdef."""
    # Comments first (block comments may span lines), then line by line.
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    out = []
    skip_depth = 0  # inside #ifdef __cplusplus
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            directive = stripped[1:].strip()
            if directive.startswith(("if", "ifdef", "ifndef")):
                depth += 1
                if skip_depth == 0 and "__cplusplus" in directive:
                    skip_depth = depth
            elif directive.startswith("endif"):
                if skip_depth == depth:
                    skip_depth = 0
                depth -= 1
            elif skip_depth == 0:
                m = _INT_DEFINE.match(stripped)
                if m:
                    out.append("#define %s %s" % (m.group(1), m.group(2)))
            continue
        if skip_depth:
            continue
        if stripped:
            out.append(line.rstrip())
    return "\n".join(out) + "\n"


def make_ffibuilder(library_dirs=None) -> FFI:
    """An FFI builder for elliptics._native linked against libelliptics."""
    with open(HEADER, encoding="utf-8") as f:
        cdef = cdef_from_header(f.read())
    ffi = FFI()
    # The compare-and-swap converter of Session.write_cas(key, converter):
    # a C function that calls back into Python (elliptics._session).
    cdef += (
        'extern "Python" int32_t _ell_py_cas_converter(void *, const void *, uint64_t, int32_t, '
        "const void **, uint64_t *);\n"
        # The progress callback of Session.write_file / read_file
        # (elliptics._files).
        'extern "Python" int32_t _ell_py_progress(void *, uint64_t, uint64_t);\n'
    )
    ffi.cdef(cdef)
    ffi.set_source(
        "elliptics._native",
        '#include "elliptics.h"\n',
        libraries=["elliptics"],
        library_dirs=list(library_dirs or []),
        include_dirs=[HEADER_DIR],
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    )
    return ffi


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    # Quick in-place build: python python/elliptics_build.py (needs bin/libelliptics.so).
    lib_dir = os.path.join(ROOT, "bin")
    make_ffibuilder([lib_dir]).compile(tmpdir=os.path.join(ROOT, "build", "cffi"), verbose=True)
