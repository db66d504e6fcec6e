"""gpuad/runtime/cxx.py: the one reader of kernel signatures in CUDA C++ source."""
import re

import pytest

from gpuad.runtime import cxx, kernel_dir

SRC = r"""
#include "gpuad/common.cuh"
#define KERNEL(name) __global__ void name(float* x)   // not readable: left unknown
namespace ops { struct Sin; }
// a comment: __global__ void commented(int* x) {}
template <class T>
__global__ void __launch_bounds__(256) axpy(const T* __restrict__ x, T* __restrict__ y, T a,
                                            long long n) {}
template <typename T, int N = 2> __global__ void consts(const T* const a, T* const b, T const* c,
                                                         const T** d, T v[], int) {}
extern "C" __global__ void plain(unsigned long long* out, unsigned u, short int s, bool on,
                                 double d = 1.0, size_t k = 0, std::int64_t m = 0) {}
namespace outer { namespace inner {
__global__ void nested(float* y) {}
} }
struct P { int a; };
extern "C" __global__ void by_struct(const __grid_constant__ P p, char c, void* raw, const void* ro) {}
__global__ void twice(float* x);                     // a declaration...
__global__ void twice(float* y) {}                   // ...and its definition
__global__ void over(float* x) {}
__global__ void over(double* x) {}                   // an overload: not checked
__global__ void none(void) {}
"""


@pytest.fixture(scope="module")
def sigs():
    return cxx.kernel_signatures(SRC)


def test_finds_every_kernel_at_namespace_scope(sigs):
    assert set(sigs) == {"axpy", "consts", "plain", "nested", "by_struct", "twice", "over", "none"}
    assert sigs["over"] is None
    assert sigs["none"].params == ()
    assert cxx.kernel_params(SRC)["over"] is None


def test_template_kernel_parameters(sigs):
    x, y, a, n = sigs["axpy"].params
    assert sigs["axpy"].template == (("T", None),)
    assert (x.decl, x.name, x.type, x.pointer, x.const) == ("const T* __restrict__ x", "x", "const T*", True, True)
    assert (y.type, y.pointer, y.const, y.elem_size) == ("T*", True, False, None)
    assert (a.pointer, a.size) == (False, None)           # T by value: unknown until instantiated
    assert (n.size, n.kind) == (8, "i")
    x, y, a, n = sigs["axpy"].instantiate("axpy<float>").params
    assert (x.type, x.const, x.elem_size, x.elem_kind, x.written) == ("const float*", True, 4, "f", "const T*")
    assert (y.type, y.const, y.elem_size) == ("float*", False, 4)
    assert (a.type, a.size, a.kind) == ("float", 4, "f")
    x, _, a, _ = cxx.params_of(sigs, "axpy<gpuad::Dual<double, 4>>")
    assert x.pointer and x.elem_size is None and a.size is None   # a struct: left unchecked


def test_const_placement(sigs):
    a, b, c, d, v, unnamed = sigs["consts"].instantiate("consts<double>").params
    assert a.const and a.pointer                          # const T* const: the pointee is const
    assert not b.const and b.pointer                      # T* const: only the pointer is
    assert c.const                                        # T const*
    assert d.pointer and not d.const and d.elem_size is None   # const T**: writes pointers
    assert v.pointer and not v.const and v.elem_size == 8  # T v[]
    assert (unnamed.name, unnamed.size) == ("", 4)
    assert sigs["consts"].template == (("T", None), ("N", "2"))


def test_builtin_scalars_and_defaults(sigs):
    out, u, s, on, d, k, m = sigs["plain"].params
    assert (out.elem_size, out.elem_kind) == (8, "u")
    assert [(p.size, p.kind) for p in (u, s, on, d, k, m)] == [(4, "u"), (2, "i"), (1, "b"), (8, "f"),
                                                               (8, "u"), (8, "i")]
    assert d.decl == "double d = 1.0" and d.name == "d"


def test_structs_void_pointers_and_namespaces(sigs):
    p, c, raw, ro = sigs["by_struct"].params
    assert (p.pointer, p.size, p.name) == (False, None, "p")
    assert (c.size, c.kind) == (1, "i")
    assert raw.pointer and not raw.const and raw.elem_size is None
    assert ro.pointer and ro.const
    assert [q.type for q in sigs["nested"].params] == ["float*"]
    assert [q.name for q in sigs["twice"].params] == ["y"]      # the definition's names


def test_scan_kernels_and_barriers_still_serve_the_host_build():
    stripped = cxx.strip(SRC)
    plain, bodies = cxx.scan_kernels(stripped)
    assert plain["nested"] == "outer::inner::nested" and "axpy" not in plain   # templates are named
    assert bodies
    assert cxx.barrier_names([cxx.strip("__device__ void f() { __syncthreads(); }\n"
                                        "__device__ void g() { f(); }")]) >= {"f", "g"}


def test_every_shipped_kernel_is_read():
    sigs = cxx.kernel_signatures((kernel_dir() / "elementwise.cu").read_text())
    assert sigs and None not in sigs.values()
    params = cxx.params_of(sigs, "unary_vjp<ops::Sin, double, 1>")
    assert [p.type for p in params][:3] == ["const double*", "const double*", "double*"]
    assert all(p.pointer or p.size for p in params)


