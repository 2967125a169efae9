"""The ctypes declarations against the C header, compiled with the system C compiler: struct
sizes and every field offset, status values, and the version this package expects."""

import ctypes
import os
import shutil
import subprocess

import pytest

import immiscible
from immiscible import _lib

STRUCTS = {"imm_options": _lib.ImmOptions, "imm_lap_info": _lib.ImmLapInfo}


def include_dir():
    """The header of the installed tree under test, else the source tree's."""
    here = os.path.dirname(os.path.abspath(__file__))
    for base in (os.environ.get("IMM_INSTALL_PREFIX"), os.environ.get("IMM_SOURCE_DIR"),
                 os.path.join(here, "..", "..")):
        if base and os.path.exists(os.path.join(base, "include", "immiscible.h")):
            return os.path.join(base, "include")
    pytest.skip("immiscible.h not found (set IMM_SOURCE_DIR)")


@pytest.fixture(scope="module")
def header_facts(tmp_path_factory):
    """{name: value} printed by a C program compiled against the header."""
    cc = os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    lines = ["#include <immiscible.h>", "#include <stddef.h>", "#include <stdio.h>",
             "int main(void) {"]
    for name, struct in STRUCTS.items():
        lines.append(f'printf("sizeof {name} %zu\\n", sizeof({name}));')
        for field, _ in struct._fields_:
            lines.append(f'printf("offsetof {name}.{field} %zu\\n", offsetof({name}, {field}));')
    for status in immiscible.Status:
        lines.append(f'printf("status {status.name} %d\\n", (int)IMM_{status.name});')
    for part in ("MAJOR", "MINOR", "PATCH"):
        lines.append(f'printf("version {part} %d\\n", IMM_VERSION_{part});')
    lines += ["return 0;", "}"]
    work = tmp_path_factory.mktemp("layout")
    src, exe = work / "layout.c", work / "layout"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-I", include_dir(), "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {" ".join(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}


@pytest.mark.parametrize("name", list(STRUCTS))
def test_struct_layout(header_facts, name):
    struct = STRUCTS[name]
    assert ctypes.sizeof(struct) == header_facts[f"sizeof {name}"]
    for field, _ in struct._fields_:
        assert getattr(struct, field).offset == header_facts[f"offsetof {name}.{field}"], field


def test_options_size_is_128(header_facts):
    assert header_facts["sizeof imm_options"] == 128


def test_status_values(header_facts):
    for status in immiscible.Status:
        assert int(status) == header_facts[f"status {status.name}"]


def test_version_matches_header(header_facts):
    major, minor, patch = (header_facts[f"version {p}"] for p in ("MAJOR", "MINOR", "PATCH"))
    assert (_lib.ABI_MAJOR, _lib.ABI_MINOR) == (major, minor)
    assert _lib.MIN_PATCH <= patch
    assert immiscible.__version__ == f"{major}.{minor}.{patch}"
    assert _lib.SONAME == f"libimmiscible.so.{major}.{minor}"


def test_every_signature_declared():
    for name, (argtypes, restype) in _lib.SIGNATURES.items():
        fn = getattr(_lib.lib, name)
        assert fn.argtypes == argtypes and fn.restype == restype
