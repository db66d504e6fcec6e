// The host runtime's launch path in C: fill a kernel's argument frame and call its launcher.
//
// What HostKernel.__call__ (host.py) does in Python, for the common arguments: NumPy arrays
// (their data pointer), None, Python/NumPy scalars; grid and block as ints or 1-tuples. The
// rules (which Python type may go to which C++ parameter, which element types a pointer
// takes) are computed once in Python and handed over; this file only applies them. Anything
// else (an argument needing the Python slow path or a wrong one) goes to the Python
// implementation, which packs it or raises the error that names the problem.
//
// Built on first use by host.py with the host C++ compiler and cached like the kernel modules.
// Python.h brings in <cmath>, which in C++17 parses libstdc++'s special functions (0.15 s of
// the 0.6-0.75 s this file took to compile); nothing here uses them, so their include guard
// is set first, as in kernels/gpuad/host.h.
#define _GLIBCXX_BITS_SPECFUN_H 1
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>

#include <pthread.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Codes shared with host.py (_ARRAY_ID ... _ARRAY_PTR).
enum Code { ARRAY_ID = 0, NUL = 1, F64 = 2, F32 = 3, INT = 4, UINT64 = 5, BOOL = 6, BYTES = 7, ARRAY_PTR = 8 };
enum { F_GRID = 0, F_BLOCK = 3, F_SMEM = 6, F_MODE = 7, F_PTR_OFFSET = 8, F_WORKERS = 9, F_ARGS = 10 };
constexpr int MAX_ARGS = 48;

using LaunchFn = int (*)(const long long*);

struct Launcher {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    LaunchFn fn;
    int nargs;
    long long mode, workers;
    PyObject* accept;    // tuple: per parameter a dict {type: code}
    PyObject* dtypes;    // tuple: per parameter None or a frozenset of numpy dtypes
    PyObject* likely;    // tuple: per parameter None or the dtype its arrays usually have
    int need[MAX_ARGS];  // per parameter: the NumPy flags an array for it must have (0: not a pointer)
    PyObject* slow;      // Python callable (grid, block, args, shared_mem): packs anything, raises
    PyObject* on_error;  // Python callable (): raises the kernel's error
    PyObject* old_error; // on_error of the launcher before the last retarget()
};

// CUDA's limits, as gpuad/runtime/checks.py (which raises the error naming them) and host.h.
constexpr long long MAX_GRID_X = 2147483647, MAX_BLOCK_X = 1024, MAX_SHARED_MEM = 227 * 1024;

int dims(PyObject* v, long long* q, long long most) {
    // An int or a 1-tuple of ints in [1, most]; 0 = leave it to the slow path.
    if (PyTuple_CheckExact(v) && PyTuple_GET_SIZE(v) == 1) v = PyTuple_GET_ITEM(v, 0);
    if (!PyLong_CheckExact(v)) return 0;
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || x < 1 || x > most) return 0;
    q[0] = x, q[1] = 1, q[2] = 1;
    return 1;
}

// 1: packed; 0: hand this argument to the slow path; -1: a Python error is set.
int pack(const Launcher* self, int i, PyObject* a, long long* slot) {
    PyObject* code_obj = PyDict_GetItemWithError(PyTuple_GET_ITEM(self->accept, i), (PyObject*)Py_TYPE(a));
    if (code_obj == nullptr) return PyErr_Occurred() ? -1 : 0;
    switch (PyLong_AsLong(code_obj)) {
    case ARRAY_ID:
    case ARRAY_PTR: {
        // The kernel gets the first element's address and ignores strides: anything but a
        // C-contiguous aligned array (writeable, for a non-const pointee) goes to the slow
        // path, which names the argument and refuses it.
        if (!PyArray_CheckExact(a) || (PyArray_FLAGS((PyArrayObject*)a) & self->need[i]) != self->need[i])
            return 0;
        PyObject* dts = PyTuple_GET_ITEM(self->dtypes, i);
        // Built-in dtypes are singletons: an identity test settles the usual case.
        if (dts != Py_None && (PyObject*)PyArray_DESCR((PyArrayObject*)a) != PyTuple_GET_ITEM(self->likely, i)) {
            int ok = PySet_Contains(dts, (PyObject*)PyArray_DESCR((PyArrayObject*)a));
            if (ok <= 0) return ok;  // a wrong element type: the slow path names it
        }
        *slot = (long long)(Py_intptr_t)PyArray_DATA((PyArrayObject*)a);
        return 1;
    }
    case NUL:
        *slot = 0;
        return 1;
    case F64: {
        double d = PyFloat_AsDouble(a);
        if (d == -1.0 && PyErr_Occurred()) return -1;
        std::memcpy(slot, &d, sizeof d);
        return 1;
    }
    case F32: {
        if (!PyArray_IsScalar(a, Float)) return 0;
        float f = PyArrayScalar_VAL(a, Float);
        *slot = 0;
        std::memcpy(slot, &f, sizeof f);
        return 1;
    }
    case INT: {
        PyObject* ix = PyNumber_Index(a);
        if (ix == nullptr) return -1;
        long long v = PyLong_AsLongLong(ix);
        Py_DECREF(ix);
        if (v == -1 && PyErr_Occurred()) return -1;
        *slot = v;
        return 1;
    }
    case UINT64: {
        PyObject* ix = PyNumber_Index(a);
        if (ix == nullptr) return -1;
        unsigned long long v = PyLong_AsUnsignedLongLongMask(ix);
        Py_DECREF(ix);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        std::memcpy(slot, &v, sizeof v);
        return 1;
    }
    case BOOL: {
        int b = PyObject_IsTrue(a);
        if (b < 0) return -1;
        *slot = b;
        return 1;
    }
    default:
        return 0;  // BYTES and anything new: Python packs it
    }
}

// Calls the launcher on frame `f` (grid, block and shared bytes already set; arguments
// packed), with other Python threads free to run. 0 on success; -1 with the kernel's error
// raised.
// The launcher and its error callback are read together, with the GIL held: retarget()
// (which also holds it) may swap both while this launch runs, and the error must come from
// the library that ran it.
int call(Launcher* k, long long* f) {
    f[F_MODE] = k->mode, f[F_PTR_OFFSET] = -1, f[F_WORKERS] = k->workers;  // -1: data pointers
    const LaunchFn fn = k->fn;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = fn(f);
    Py_END_ALLOW_THREADS
    if (rc == 0) return 0;
    PyObject* on_error = Py_NewRef(k->on_error);    // the pair read above, unless swapped since
    if (k->fn != fn) Py_SETREF(on_error, Py_NewRef(k->old_error));
    PyObject* r = PyObject_CallNoArgs(on_error);
    Py_DECREF(on_error);
    Py_XDECREF(r);
    if (r != nullptr) PyErr_SetString(PyExc_RuntimeError, "kernel launch failed");
    return -1;
}

// The launch itself: grid, block, args (a tuple), shared_mem (an int or null for 0).
PyObject* launch(Launcher* self, PyObject* grid, PyObject* block, PyObject* args, PyObject* smem) {
    long long f[F_ARGS + MAX_ARGS];
    int ok = 1;
    long long shared = 0;
    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != self->nargs || self->nargs > MAX_ARGS ||
        !dims(grid, f + F_GRID, MAX_GRID_X) ||
        !dims(block, f + F_BLOCK, MAX_BLOCK_X) || (smem != nullptr && !PyLong_CheckExact(smem)))
        ok = 0;
    if (ok && smem != nullptr) {
        shared = PyLong_AsLongLong(smem);
        if (shared < 0 || shared > MAX_SHARED_MEM || PyErr_Occurred()) {
            PyErr_Clear();
            ok = 0;
        }
    }
    for (int i = 0; ok == 1 && i < self->nargs; ++i) ok = pack(self, i, PyTuple_GET_ITEM(args, i), f + F_ARGS + i);
    if (ok < 0) return nullptr;
    if (ok == 0) {
        // The Python path packs what this one does not, or raises the error naming the argument.
        PyObject* zero = smem == nullptr ? PyLong_FromLong(0) : nullptr;
        PyObject* r = PyObject_CallFunctionObjArgs(self->slow, grid, block, args, smem ? smem : zero, nullptr);
        Py_XDECREF(zero);
        return r;
    }
    f[F_SMEM] = shared;
    // The arrays stay referenced by `args` for the whole call.
    if (call(self, f) < 0) return nullptr;
    Py_RETURN_NONE;
}

PyObject* Launcher_vectorcall(PyObject* op, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
    Launcher* self = (Launcher*)op;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (kwnames == nullptr && (n == 3 || n == 4))
        return launch(self, args[0], args[1], args[2], n == 4 ? args[3] : nullptr);
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);  // keywords: Python parses them
}

PyObject* Launcher_call(PyObject* op, PyObject* pargs, PyObject* kw) {
    return PyVectorcall_Call(op, pargs, kw);
}

void Launcher_dealloc(PyObject* op) {
    Launcher* self = (Launcher*)op;
    Py_XDECREF(self->accept);
    Py_XDECREF(self->dtypes);
    Py_XDECREF(self->likely);
    Py_XDECREF(self->slow);
    Py_XDECREF(self->on_error);
    Py_XDECREF(self->old_error);
    Py_TYPE(op)->tp_free(op);
}

// retarget(fn_address, on_error): launch the same kernel from another library from now on
// (host.py's tiered builds: the optimised library replaces the quick one). The library
// replaced stays loaded, so a launch already running in it completes there.
PyObject* Launcher_retarget(PyObject* op, PyObject* a) {
    Launcher* self = (Launcher*)op;
    unsigned long long addr;
    PyObject* on_error;
    if (!PyArg_ParseTuple(a, "KO", &addr, &on_error)) return nullptr;
    Py_SETREF(self->old_error, self->on_error);
    self->on_error = Py_NewRef(on_error);
    self->fn = (LaunchFn)(Py_uintptr_t)addr;
    Py_RETURN_NONE;
}

PyMethodDef launcher_methods[] = {
    {"retarget", Launcher_retarget, METH_VARARGS,
     "retarget(fn_address, on_error): launch through another library's launcher from now on"},
    {nullptr, nullptr, 0, nullptr}};

PyTypeObject LauncherType = {PyVarObject_HEAD_INIT(nullptr, 0)};

// launcher(fn_address, accept, dtypes, likely, need, mode, workers, slow, on_error)
PyObject* make_launcher(PyObject*, PyObject* a) {
    unsigned long long addr;
    PyObject *accept, *dtypes, *likely, *need, *slow, *on_error;
    long long mode, workers;
    if (!PyArg_ParseTuple(a, "KO!O!O!O!LLOO", &addr, &PyTuple_Type, &accept, &PyTuple_Type, &dtypes, &PyTuple_Type,
                          &likely, &PyTuple_Type, &need, &mode, &workers, &slow, &on_error))
        return nullptr;
    const Py_ssize_t n = PyTuple_GET_SIZE(accept);
    if (PyTuple_GET_SIZE(dtypes) != n || PyTuple_GET_SIZE(likely) != n || PyTuple_GET_SIZE(need) != n) {
        PyErr_SetString(PyExc_ValueError, "accept, dtypes, likely and need differ in length");
        return nullptr;
    }
    int flags[MAX_ARGS] = {};  // a kernel with more parameters always takes the slow path
    for (Py_ssize_t i = 0; i < n; ++i) {
        if (!PyDict_Check(PyTuple_GET_ITEM(accept, i))) {
            PyErr_SetString(PyExc_TypeError, "accept must hold one dict per parameter");
            return nullptr;
        }
        const long v = PyLong_AsLong(PyTuple_GET_ITEM(need, i));
        if (v == -1 && PyErr_Occurred()) return nullptr;
        if (i < MAX_ARGS) flags[i] = (int)v;
    }
    Launcher* self = PyObject_New(Launcher, &LauncherType);
    if (self == nullptr) return nullptr;
    std::memcpy(self->need, flags, sizeof flags);
    self->vectorcall = Launcher_vectorcall;
    self->fn = (LaunchFn)(Py_uintptr_t)addr;
    self->nargs = (int)PyTuple_GET_SIZE(accept);
    self->mode = mode;
    self->workers = workers;
    self->accept = Py_NewRef(accept);
    self->dtypes = Py_NewRef(dtypes);
    self->likely = Py_NewRef(likely);
    self->slow = Py_NewRef(slow);
    self->on_error = Py_NewRef(on_error);
    self->old_error = Py_NewRef(on_error);
    return (PyObject*)self;
}

// ------------------------------------------------------------------ elementwise fast paths
// The engine's fast paths for the elementwise kernels of kernels/elementwise.cu (see "Fast
// paths" in gpuad/primitives/elementwise.py): the checks, the output buffer and the frame
// in one C call. Each returns None when its case does not apply (then the engine takes the
// general path), so a wrong answer is never possible here, only a slower one.
// Argument order in every frame is the kernel's parameter order.

long long split2 = 65536;  // below this many elements a launch uses one CPU thread (base._cpu_grid)
long long split = 32768;

bool plain(PyObject* a) {  // an aligned, native-order, C-contiguous NumPy array
    return PyArray_CheckExact(a) && PyArray_ISCARRAY_RO((PyArrayObject*)a);
}

bool same_shape(PyArrayObject* a, PyArrayObject* b) {
    const int nd = PyArray_NDIM(a);
    // (0-d: no dims to compare; memcmp's pointers must not be null even for 0 bytes)
    return nd == PyArray_NDIM(b) &&
           (nd == 0 || std::memcmp(PyArray_DIMS(a), PyArray_DIMS(b), nd * sizeof(npy_intp)) == 0);
}

// The launcher for `a`'s element type (float64: kd, float32: kf), or null.
Launcher* pick(PyObject* kd, PyObject* kf, PyArrayObject* a) {
    PyObject* k = PyArray_TYPE(a) == NPY_DOUBLE ? kd : PyArray_TYPE(a) == NPY_FLOAT ? kf : nullptr;
    return k != nullptr && Py_TYPE(k) == &LauncherType ? (Launcher*)k : nullptr;
}

long long* data(PyObject* a) { return (long long*)PyArray_DATA((PyArrayObject*)a); }

PyObject* like(PyArrayObject* a) {  // a fresh C-contiguous array of a's shape and type
    return PyArray_SimpleNew(PyArray_NDIM(a), PyArray_DIMS(a), PyArray_TYPE(a));
}

// The CPU grid of an n-element elementwise launch (as base._cpu_grid), then call().
int run(Launcher* k, long long* f, long long n) {
    long long blocks = 1;
    if (n >= split2) {
        blocks = n / split;
        if (blocks > k->workers) blocks = k->workers;
        if (blocks < 1) blocks = 1;
    }
    f[F_GRID] = blocks, f[F_GRID + 1] = 1, f[F_GRID + 2] = 1;
    f[F_BLOCK] = 1, f[F_BLOCK + 1] = 1, f[F_BLOCK + 2] = 1;
    f[F_SMEM] = 0;
    if (n == 0) return 0;  // like base.launch: an empty array launches nothing
    return call(k, f);
}

// unary_fwd(kd, kf, x) -> out: kernel (x, out, n)
PyObject* ew_unary_fwd(PyObject*, PyObject* const* a, Py_ssize_t na) {
    if (na != 3) return PyErr_Format(PyExc_TypeError, "unary_fwd takes 3 arguments");
    if (!plain(a[2])) Py_RETURN_NONE;
    PyArrayObject* x = (PyArrayObject*)a[2];
    Launcher* k = pick(a[0], a[1], x);
    if (k == nullptr) Py_RETURN_NONE;
    PyObject* out = like(x);
    if (out == nullptr) return nullptr;
    const long long n = PyArray_SIZE(x);
    long long f[F_ARGS + 3] = {};
    f[F_ARGS] = (long long)PyArray_DATA(x), f[F_ARGS + 1] = (long long)data(out), f[F_ARGS + 2] = n;
    if (run(k, f, n) < 0) {
        Py_DECREF(out);
        return nullptr;
    }
    return out;
}

// Strides of two operands against the larger one's shape: both the same shape (1, 1), or one
// 0-d (stride 0). Returns the operand whose shape the output has, or null.
PyArrayObject* strides2(PyArrayObject* x, PyArrayObject* y, int* sx, int* sy) {
    if (same_shape(x, y)) return *sx = *sy = 1, x;
    if (PyArray_NDIM(y) == 0) return *sx = 1, *sy = 0, x;
    if (PyArray_NDIM(x) == 0) return *sx = 0, *sy = 1, y;
    return nullptr;
}

// binary_fwd(kd, kf, x, y) -> out: kernel (x, y, out, n, sx, sy)
PyObject* ew_binary_fwd(PyObject*, PyObject* const* a, Py_ssize_t na) {
    if (na != 4) return PyErr_Format(PyExc_TypeError, "binary_fwd takes 4 arguments");
    if (!plain(a[2]) || !plain(a[3])) Py_RETURN_NONE;
    PyArrayObject *x = (PyArrayObject*)a[2], *y = (PyArrayObject*)a[3];
    int sx, sy;
    PyArrayObject* full = strides2(x, y, &sx, &sy);
    Launcher* k = pick(a[0], a[1], x);
    if (full == nullptr || k == nullptr || PyArray_TYPE(y) != PyArray_TYPE(x)) Py_RETURN_NONE;
    PyObject* out = like(full);
    if (out == nullptr) return nullptr;
    const long long n = PyArray_SIZE(full);
    long long f[F_ARGS + 6] = {};
    f[F_ARGS] = (long long)PyArray_DATA(x), f[F_ARGS + 1] = (long long)PyArray_DATA(y);
    f[F_ARGS + 2] = (long long)data(out), f[F_ARGS + 3] = n, f[F_ARGS + 4] = sx, f[F_ARGS + 5] = sy;
    if (run(k, f, n) < 0) {
        Py_DECREF(out);
        return nullptr;
    }
    return out;
}

// A cotangent buffer to add into (None, or a writeable C array of `shape`'s shape and type).
int buffer_ok(PyObject* b, PyArrayObject* shape) {
    return b == Py_None || (PyArray_CheckExact(b) && PyArray_ISCARRAY((PyArrayObject*)b) &&
                            same_shape((PyArrayObject*)b, shape) &&
                            PyArray_TYPE((PyArrayObject*)b) == PyArray_TYPE(shape));
}

// The i-th item of a tuple or list (borrowed), or null.
PyObject* item(PyObject* seq, Py_ssize_t i) {
    if (PyTuple_Check(seq)) return i < PyTuple_GET_SIZE(seq) ? PyTuple_GET_ITEM(seq, i) : nullptr;
    if (PyList_Check(seq)) return i < PyList_GET_SIZE(seq) ? PyList_GET_ITEM(seq, i) : nullptr;
    return nullptr;
}

// unary_vjp(kd, kf, g, ins, need, acc) -> (gx,), the signature of Primitive.fast_vjp after
// the two launchers: ins = (x,), acc = [buffer to add into or None].
// Kernel (x, g, gx, n, lanes=1, accumulate, sg=1).
PyObject* ew_unary_vjp(PyObject*, PyObject* const* a, Py_ssize_t na) {
    if (na != 6) return PyErr_Format(PyExc_TypeError, "unary_vjp takes 6 arguments");
    PyObject *xo = item(a[3], 0), *buf = item(a[5], 0);
    if (xo == nullptr || buf == nullptr || !plain(xo) || !plain(a[2])) Py_RETURN_NONE;
    PyArrayObject *x = (PyArrayObject*)xo, *g = (PyArrayObject*)a[2];
    Launcher* k = pick(a[0], a[1], x);
    if (k == nullptr || PyArray_TYPE(g) != PyArray_TYPE(x) || !same_shape(x, g) || !buffer_ok(buf, x))
        Py_RETURN_NONE;
    const bool accumulate = buf != Py_None;
    PyObject* gx = accumulate ? Py_NewRef(buf) : like(x);
    if (gx == nullptr) return nullptr;
    const long long n = PyArray_SIZE(x);
    long long f[F_ARGS + 7] = {};
    f[F_ARGS] = (long long)PyArray_DATA(x), f[F_ARGS + 1] = (long long)PyArray_DATA(g);
    f[F_ARGS + 2] = (long long)data(gx), f[F_ARGS + 3] = n, f[F_ARGS + 4] = 1, f[F_ARGS + 5] = accumulate;
    f[F_ARGS + 6] = 1;
    if (run(k, f, n) < 0) {
        Py_DECREF(gx);
        return nullptr;
    }
    PyObject* t = PyTuple_Pack(1, gx);
    Py_DECREF(gx);
    return t;
}

// binary_vjp(kd, kf, g, ins, need, acc) -> [gx, gy], the signature of Primitive.fast_vjp after
// the two launchers: ins = (x, y), need = (bool, bool), acc = [buffer or None] * 2.
// Kernel (x, y, g, gx, gy, n, sx, sy, sg=1, acc_x, acc_y). An input that wants a cotangent
// must have g's shape (no sum to undo).
PyObject* ew_binary_vjp(PyObject*, PyObject* const* a, Py_ssize_t na) {
    if (na != 6) return PyErr_Format(PyExc_TypeError, "binary_vjp takes 6 arguments");
    PyObject *xo = item(a[3], 0), *yo = item(a[3], 1), *nx = item(a[4], 0), *ny = item(a[4], 1);
    PyObject *bx = item(a[5], 0), *by = item(a[5], 1);
    if (!xo || !yo || !nx || !ny || !bx || !by || !plain(xo) || !plain(yo) || !plain(a[2])) Py_RETURN_NONE;
    PyArrayObject *x = (PyArrayObject*)xo, *y = (PyArrayObject*)yo, *g = (PyArrayObject*)a[2];
    const int need_x = PyObject_IsTrue(nx), need_y = PyObject_IsTrue(ny);
    if (need_x < 0 || need_y < 0) return nullptr;
    int sx, sy;
    Launcher* k = pick(a[0], a[1], g);
    if (k == nullptr || strides2(x, y, &sx, &sy) == nullptr || PyArray_TYPE(x) != PyArray_TYPE(g) ||
        PyArray_TYPE(y) != PyArray_TYPE(g) || (sx && !same_shape(x, g)) || (sy && !same_shape(y, g)) ||
        (need_x && !sx) || (need_y && !sy) || !buffer_ok(bx, g) || !buffer_ok(by, g))
        Py_RETURN_NONE;
    const bool acc_x = need_x && bx != Py_None, acc_y = need_y && by != Py_None;
    PyObject* gx = !need_x ? Py_NewRef(Py_None) : acc_x ? Py_NewRef(bx) : like(g);
    PyObject* gy = !need_y ? Py_NewRef(Py_None) : acc_y ? Py_NewRef(by) : like(g);
    PyObject* result = nullptr;
    if (gx != nullptr && gy != nullptr) {
        const long long n = PyArray_SIZE(g);
        long long f[F_ARGS + 11] = {};
        f[F_ARGS] = (long long)PyArray_DATA(x), f[F_ARGS + 1] = (long long)PyArray_DATA(y);
        f[F_ARGS + 2] = (long long)PyArray_DATA(g);
        f[F_ARGS + 3] = need_x ? (long long)data(gx) : 0, f[F_ARGS + 4] = need_y ? (long long)data(gy) : 0;
        f[F_ARGS + 5] = n, f[F_ARGS + 6] = sx, f[F_ARGS + 7] = sy, f[F_ARGS + 8] = 1;
        f[F_ARGS + 9] = acc_x, f[F_ARGS + 10] = acc_y;
        if (run(k, f, n) == 0) result = PyList_New(2);
        if (result != nullptr) {
            PyList_SET_ITEM(result, 0, gx);  // steals the references
            PyList_SET_ITEM(result, 1, gy);
            return result;
        }
    }
    Py_XDECREF(gx);
    Py_XDECREF(gy);
    return nullptr;
}

// set_split(split): elements per CPU worker before a launch is split (base._SPLIT).
PyObject* set_split(PyObject*, PyObject* v) {
    long long s = PyLong_AsLongLong(v);
    if (s == -1 && PyErr_Occurred()) return nullptr;
    if (s < 1) return PyErr_Format(PyExc_ValueError, "split must be positive");
    split = s, split2 = 2 * s;
    Py_RETURN_NONE;
}


// ---------------------------------------------------------------- host array memory cache
// NumPy's data allocator (NEP 49) while gpuad's transforms run on the host (the host
// launcher's scope, hostmem.py). Why: a freed block of a few hundred KiB and up goes back
// to the OS (glibc unmaps it, or trims the heap's top), and the next array of that size
// page-faults on every page it writes: about 2 us per 4 KiB page on the machines measured,
// 4 ms of a 21 ms tanh-network gradient (issue 18).
// Every block is made by NumPy's default allocator (its small-block cache and huge-page
// advice included). One of MIN_CACHED bytes and up (rounded up to a page) is kept when
// freed, while the cache holds at most `limit` bytes (the oldest go back first), and handed
// to the next array that fits it with at most a quarter to spare (a miss takes a block
// from NumPy's allocator, as without the cache: mapping fresh ones instead made gradients
// over many sizes 20% slower than glibc's reuse of its heap). Each block starts with a
// BlockHeader (its capacity), 16 bytes: NumPy's alignment is kept.
struct BlockHeader {
    size_t capacity, pad;
};
constexpr size_t HEADER = 16;
constexpr size_t MIN_CACHED = size_t(1) << 18, PAGE = 4096;
static_assert(sizeof(BlockHeader) == HEADER, "header size");

// A kept block's first bytes (its data, unused while kept) link it into two lists: all kept
// blocks and those of its capacity, each oldest first. (No node is allocated: a block can
// always be kept, and std::list/unordered_map doubled this file's compile time.)
struct FreeBlock {
    FreeBlock *older, *newer, *older_same, *newer_same;
    size_t cap;
};
struct SizeList {
    size_t cap;
    FreeBlock *oldest, *newest;
};

struct Cache {
    pthread_mutex_t lock;
    FreeBlock *oldest = nullptr, *newest = nullptr;
    std::vector<SizeList> sizes;           // the capacities kept, ascending
    size_t cached = 0, limit = 0;
    unsigned long long hits = 0, misses = 0;
    Cache() { pthread_mutex_init(&lock, nullptr); }

    size_t find(size_t cap) const {        // the first entry of sizes with capacity >= cap
        size_t lo = 0, hi = sizes.size();
        while (lo < hi) {
            const size_t mid = (lo + hi) / 2;
            if (sizes[mid].cap < cap) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
    void unlink(FreeBlock* b) {
        (b->older ? b->older->newer : oldest) = b->newer;
        (b->newer ? b->newer->older : newest) = b->older;
        const size_t i = find(b->cap);
        SizeList& same = sizes[i];
        (b->older_same ? b->older_same->newer_same : same.oldest) = b->newer_same;
        (b->newer_same ? b->newer_same->older_same : same.newest) = b->older_same;
        if (same.oldest == nullptr) sizes.erase(sizes.begin() + i);
        cached -= b->cap;
    }
    // The latest freed block of the least capacity in [cap, most], or null.
    char* take(size_t cap, size_t most) {
        const size_t i = find(cap);
        if (i == sizes.size() || sizes[i].cap > most) return nullptr;
        FreeBlock* b = sizes[i].newest;
        unlink(b);
        return reinterpret_cast<char*>(b);
    }
    void put(size_t cap, char* data) {     // throws std::bad_alloc before it changes anything
        const size_t i = find(cap);
        if (i == sizes.size() || sizes[i].cap != cap)
            sizes.insert(sizes.begin() + i, SizeList{cap, nullptr, nullptr});
        SizeList& same = sizes[i];
        FreeBlock* b = reinterpret_cast<FreeBlock*>(data);
        *b = FreeBlock{newest, nullptr, same.newest, nullptr, cap};
        (newest ? newest->newer : oldest) = b;
        newest = b;
        (same.newest ? same.newest->newer_same : same.oldest) = b;
        same.newest = b;
        cached += cap;
    }
    // Drop the oldest blocks until at most `keep` bytes stay; the caller gives `out`'s
    // blocks back after unlocking. Throws std::bad_alloc before it changes anything.
    void shrink(size_t keep, std::vector<char*>& out) {
        size_t k = 0, freed = 0;
        for (FreeBlock* b = oldest; b != nullptr && cached - freed > keep; b = b->newer)
            ++k, freed += b->cap;
        out.reserve(out.size() + k);
        for (; k > 0; --k) {
            FreeBlock* b = oldest;
            unlink(b);
            out.push_back(reinterpret_cast<char*>(b));
        }
    }
};

// Never destroyed: arrays made with this allocator may be freed during interpreter exit.
Cache& cache() {
    static Cache* c = new Cache;
    return *c;
}

const PyDataMemAllocator* numpy_allocator;   // NumPy's default (set at import)

BlockHeader* header_of(void* p) {
    return reinterpret_cast<BlockHeader*>(static_cast<char*>(p) - HEADER);
}

void give_back(char* data) {
    numpy_allocator->free(numpy_allocator->ctx, data - HEADER, HEADER + header_of(data)->capacity);
}

void give_back(const std::vector<char*>& blocks) {
    for (char* data : blocks) give_back(data);
}

void* cache_alloc(size_t n, bool zero) {
    if (n > SIZE_MAX - HEADER - PAGE) return nullptr;
    const size_t cap = n < MIN_CACHED ? n : (n + PAGE - 1) / PAGE * PAGE;
    if (cap >= MIN_CACHED) {
        Cache& c = cache();
        pthread_mutex_lock(&c.lock);
        char* data = c.take(cap, cap + cap / 4);
        ++(data != nullptr ? c.hits : c.misses);
        pthread_mutex_unlock(&c.lock);
        if (data != nullptr) {
            if (zero) std::memset(data, 0, n);
            return data;
        }
    }
    const PyDataMemAllocator& a = *numpy_allocator;
    char* raw = static_cast<char*>(zero ? a.calloc(a.ctx, 1, HEADER + cap)
                                        : a.malloc(a.ctx, HEADER + cap));
    if (raw == nullptr) return nullptr;
    *reinterpret_cast<BlockHeader*>(raw) = BlockHeader{cap, 0};
    return raw + HEADER;
}

void* cache_malloc(void*, size_t n) { return cache_alloc(n, false); }

void* cache_calloc(void*, size_t nelem, size_t elsize) {
    if (elsize != 0 && nelem > SIZE_MAX / elsize) return nullptr;
    return cache_alloc(nelem * elsize, true);
}

void cache_free(void*, void* p, size_t) {
    if (p == nullptr) return;
    char* data = static_cast<char*>(p);
    const size_t cap = header_of(data)->capacity;
    if (cap < MIN_CACHED) return give_back(data);
    std::vector<char*> drop;
    bool kept = false;
    Cache& c = cache();
    pthread_mutex_lock(&c.lock);
    if (cap <= c.limit) {
        try {
            c.shrink(c.limit - cap, drop);
            c.put(cap, data);
            kept = true;
        } catch (...) {   // (no memory for the size list: the block goes back instead)
        }
    }
    pthread_mutex_unlock(&c.lock);
    give_back(drop);
    if (!kept) give_back(data);
}

void* cache_realloc(void* ctx, void* p, size_t n) {
    if (p == nullptr) return cache_alloc(n, false);
    const size_t cap = header_of(p)->capacity;
    if (n <= cap) return p;                  // (its header still says how to free it)
    void* q = cache_alloc(n, false);
    if (q == nullptr) return nullptr;        // (p stays valid, as realloc's contract says)
    std::memcpy(q, p, cap);
    cache_free(ctx, p, cap);
    return q;
}

PyDataMem_Handler cache_handler = {
    "gpuad_host_cache", 1, {nullptr, cache_malloc, cache_calloc, cache_realloc, cache_free}};
PyObject* cache_capsule;      // the handler as NumPy takes it
PyObject* scope_stack;        // ContextVar: (handler to restore or None, the entry below) or None

// Give the oldest kept blocks back until at most `keep` bytes stay, then make `limit` the
// limit unless it is -1; false, with MemoryError set, where there was no memory for the list.
bool trim(size_t keep, long long limit) {
    Cache& c = cache();
    std::vector<char*> drop;
    pthread_mutex_lock(&c.lock);
    try {
        c.shrink(keep, drop);
    } catch (...) {
        pthread_mutex_unlock(&c.lock);
        PyErr_NoMemory();
        return false;
    }
    if (limit >= 0) c.limit = size_t(limit);
    pthread_mutex_unlock(&c.lock);
    give_back(drop);
    return true;
}

// host_cache(limit): the cache's most bytes (-1: unchanged), giving the oldest blocks back
// above it; returns (hits, misses, cached bytes, limit).
PyObject* host_cache(PyObject*, PyObject* v) {
    long long limit = PyLong_AsLongLong(v);
    if (limit == -1 && PyErr_Occurred()) return nullptr;
    if (limit < -1) return PyErr_Format(PyExc_ValueError, "host cache limit must be >= 0 bytes");
    if (limit >= 0 && !trim(size_t(limit), limit)) return nullptr;
    Cache& c = cache();
    pthread_mutex_lock(&c.lock);
    const unsigned long long hits = c.hits, misses = c.misses;
    const size_t cached = c.cached, most = c.limit;
    pthread_mutex_unlock(&c.lock);
    return Py_BuildValue("(KKnn)", hits, misses, Py_ssize_t(cached), Py_ssize_t(most));
}

// host_cache_release(): every kept block back to NumPy's allocator, and glibc's free memory
// back to the OS (malloc_trim); the limit stays.
PyObject* host_cache_release(PyObject*, PyObject*) {
    if (!trim(0, -1)) return nullptr;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    Py_RETURN_NONE;
}

// The scope: `with host_cache_scope:` makes the cache NumPy's allocator in the current
// context (where the current one is NumPy's default or the cache itself, and the limit is
// not 0) and restores the one before on leaving; nested scopes stack. Entering and leaving
// are each one C call, so no signal (KeyboardInterrupt) can land between the switch and
// its bookkeeping, and the bookkeeping lives in a ContextVar beside NumPy's own, so
// contexts that interleave in one thread (greenlets, asyncio tasks) restore their own.
PyObject* scope_enter(PyObject* self, PyObject*) {
    Cache& c = cache();
    pthread_mutex_lock(&c.lock);
    const bool on = c.limit > 0;
    pthread_mutex_unlock(&c.lock);
    PyObject* saved = Py_None;          // the handler to restore on leaving, or None
    Py_INCREF(saved);
    if (on) {
        PyObject* current = PyDataMem_GetHandler();
        if (current == nullptr) {
            Py_DECREF(saved);
            return nullptr;
        }
        const bool replace = current == PyDataMem_DefaultHandler || current == cache_capsule;
        Py_DECREF(current);
        if (replace) {
            PyObject* old = PyDataMem_SetHandler(cache_capsule);
            if (old == nullptr) {
                Py_DECREF(saved);
                return nullptr;
            }
            Py_DECREF(saved);
            saved = old;
        }
    }
    PyObject* below = nullptr;
    PyObject* entry = nullptr;
    PyObject* token = nullptr;
    if (PyContextVar_Get(scope_stack, Py_None, &below) == 0) {
        entry = PyTuple_Pack(2, saved, below);
        Py_DECREF(below);
        if (entry != nullptr) token = PyContextVar_Set(scope_stack, entry);
        Py_XDECREF(entry);
    }
    if (token == nullptr) {             // (undo the switch: nothing changed)
        if (saved != Py_None) Py_XDECREF(PyDataMem_SetHandler(saved));
        Py_DECREF(saved);
        return nullptr;
    }
    Py_DECREF(token);
    Py_DECREF(saved);
    Py_INCREF(self);
    return self;
}

PyObject* scope_exit(PyObject*, PyObject*) {
    PyObject* entry = nullptr;
    if (PyContextVar_Get(scope_stack, Py_None, &entry) < 0) return nullptr;
    if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
        Py_DECREF(entry);
        return PyErr_Format(PyExc_RuntimeError, "gpuad's host cache scope left more often than entered");
    }
    PyObject* saved = PyTuple_GET_ITEM(entry, 0);
    if (saved != Py_None) {
        PyObject* ours = PyDataMem_SetHandler(saved);
        if (ours == nullptr) {
            Py_DECREF(entry);
            return nullptr;
        }
        Py_DECREF(ours);
    }
    PyObject* token = PyContextVar_Set(scope_stack, PyTuple_GET_ITEM(entry, 1));
    Py_DECREF(entry);
    if (token == nullptr) return nullptr;
    Py_DECREF(token);
    Py_RETURN_FALSE;
}

PyMethodDef scope_methods[] = {
    {"__enter__", scope_enter, METH_NOARGS, "make the cache NumPy's allocator here"},
    {"__exit__", scope_exit, METH_VARARGS, "restore the allocator current before"},
    {nullptr, nullptr, 0, nullptr}};

PyTypeObject ScopeType = {PyVarObject_HEAD_INIT(nullptr, 0)};

void cache_after_fork_in_child() {
    // Only the forking thread goes on: a lock another thread held stays held otherwise
    // (every holder also holds the GIL, which the forking thread has: none holds it now).
    pthread_mutex_init(&cache().lock, nullptr);
}

PyMethodDef methods[] = {
    {"unary_fwd", (PyCFunction)(void (*)())ew_unary_fwd, METH_FASTCALL, "unary_fwd(kd, kf, x) -> out or None"},
    {"binary_fwd", (PyCFunction)(void (*)())ew_binary_fwd, METH_FASTCALL, "binary_fwd(kd, kf, x, y) -> out or None"},
    {"unary_vjp", (PyCFunction)(void (*)())ew_unary_vjp, METH_FASTCALL,
     "unary_vjp(kd, kf, g, ins, need, acc) -> (gx,) or None"},
    {"binary_vjp", (PyCFunction)(void (*)())ew_binary_vjp, METH_FASTCALL,
     "binary_vjp(kd, kf, g, ins, need, acc) -> [gx, gy] or None"},
    {"set_split", set_split, METH_O, "set_split(elements per CPU worker)"},
    {"host_cache", host_cache, METH_O, "host_cache(limit bytes or -1) -> (hits, misses, cached bytes, limit)"},
    {"host_cache_release", host_cache_release, METH_NOARGS, "host_cache_release(): every kept block back, free memory to the OS"},
    {"launcher", make_launcher, METH_VARARGS,
     "launcher(fn_address, accept, dtypes, likely, need, mode, workers, slow, on_error) -> callable(grid, block, "
     "args, shared_mem=0)"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "gpuad_fastcall", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit_gpuad_fastcall() {
    import_array();
    LauncherType.tp_name = "gpuad_fastcall.Launcher";
    LauncherType.tp_basicsize = sizeof(Launcher);
    LauncherType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL;
    LauncherType.tp_vectorcall_offset = offsetof(Launcher, vectorcall);
    LauncherType.tp_call = Launcher_call;
    LauncherType.tp_dealloc = Launcher_dealloc;
    LauncherType.tp_methods = launcher_methods;
    LauncherType.tp_doc = "A host kernel's launch path (gpuad/runtime/fastcall.cpp)";
    if (PyType_Ready(&LauncherType) < 0) return nullptr;
    auto* numpy_handler = static_cast<PyDataMem_Handler*>(
        PyCapsule_GetPointer(PyDataMem_DefaultHandler, "mem_handler"));
    if (numpy_handler == nullptr) return nullptr;
    numpy_allocator = &numpy_handler->allocator;
    cache();
    pthread_atfork(nullptr, nullptr, cache_after_fork_in_child);
    ScopeType.tp_name = "gpuad_fastcall.HostCacheScope";
    ScopeType.tp_basicsize = sizeof(PyObject);
    ScopeType.tp_flags = Py_TPFLAGS_DEFAULT;
    ScopeType.tp_methods = scope_methods;
    ScopeType.tp_doc = "gpuad's host array cache as NumPy's allocator inside `with` (hostmem.py)";
    if (PyType_Ready(&ScopeType) < 0) return nullptr;
    cache_capsule = PyCapsule_New(&cache_handler, "mem_handler", nullptr);
    scope_stack = PyContextVar_New("gpuad_host_cache_scope", nullptr);
    if (cache_capsule == nullptr || scope_stack == nullptr) return nullptr;
    PyObject* m = PyModule_Create(&moduledef);
    if (m == nullptr) return nullptr;
    PyObject* scope = PyType_GenericAlloc(&ScopeType, 0);
    if (scope == nullptr || PyModule_AddObject(m, "host_cache_scope", scope) < 0) {
        Py_XDECREF(scope);
        Py_DECREF(m);
        return nullptr;
    }
    Py_INCREF(cache_capsule);
    if (PyModule_AddObject(m, "host_cache_handler", cache_capsule) < 0) {
        Py_DECREF(cache_capsule);
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
