/*
 * elliptics._speedups: the per-key loops of bulk calls in C (a plain CPython
 * extension, next to the cffi module elliptics._native).
 *
 * A bulk call of 100 keys spent about 100 us of Python per call in these
 * loops (packing the names, building the entries and slicing their data out
 * of the library's block); here they take a few microseconds plus the copy
 * of the data into bytes objects.
 *
 *   pack_names(keys)           -> (joined, lens) or None
 *   pack_values(values)        -> (joined, sizes) or None
 *   slab_entries(ents, n, ctx) -> [entry, ...] or None
 *   collect(h, ms, info, ents, cap, err, build) -> rc, [entry, ...] or None
 *
 * setup(ResultEntry, _SlabEntry) must be called once first, and set_collect
 * before collect (elliptics._result).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#include "elliptics.h"

/* The slots slab_entries stores, by their offsets in a ResultEntry. */
enum { SLOT_DATA, SLOT_STATUS, SLOT_KEY_INDEX, SLOT_ROW, SLOT_CTX, NSLOTS };
static const char *const slot_names[NSLOTS] = {"data", "status", "key_index", "_row", "_ctx"};
static Py_ssize_t slot_off[NSLOTS];
static PyTypeObject *slab_cls; /* _SlabEntry; a strong reference */

/* setup(base, cls): base is ResultEntry (its __slots__ hold the fields), cls
 * the subclass slab_entries makes (no __dict__, the same layout). */
static PyObject *setup(PyObject *self, PyObject *args) {
    PyObject *base, *cls;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &base, &PyType_Type, &cls))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)cls, (PyTypeObject *)base) ||
        ((PyTypeObject *)cls)->tp_basicsize != ((PyTypeObject *)base)->tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "setup: cls must extend base without adding fields");
        return NULL;
    }
    PyObject *dict = ((PyTypeObject *)base)->tp_dict;
    for (int i = 0; i < NSLOTS; i++) {
        PyObject *d = PyDict_GetItemString(dict, slot_names[i]);
        if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) {
            PyErr_Format(PyExc_TypeError, "setup: %s is not a slot of base", slot_names[i]);
            return NULL;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "setup: %s is not a writable object slot", slot_names[i]);
            return NULL;
        }
        slot_off[i] = m->offset;
    }
    Py_INCREF(cls);
    Py_XSETREF(slab_cls, (PyTypeObject *)cls);
    Py_RETURN_NONE;
}

/* Stores v (a new reference, or NULL: fails) in slot i of o. */
static int put(PyObject *o, int i, PyObject *v) {
    if (v == NULL)
        return -1;
    PyObject **p = (PyObject **)((char *)o + slot_off[i]);
    Py_XSETREF(*p, v);
    return 0;
}

/* The layout capi/data.go newSlab writes a bulk call's entries in (or the
 * tail of one): the structs (ell_entry + ell_entry_ext) back to back, then
 * their NUL-terminated strings; their data lies back to back in entry order
 * (in a block of its own). Returns the offset from ents[0] where the strings
 * end and sets *data to where the first entry's data begins (NULL when no
 * entry has any); 0 when the entries are not laid out so. */
static size_t slab_layout(const ell_entry *const *ents, size_t n, const char **data) {
    const size_t stride = sizeof(ell_entry) + sizeof(ell_entry_ext);
    const char *base, *sent, *head;
    if (!n || !ents[0])
        return 0;
    base = (const char *)ents[0];
    sent = head = base + n * stride;
    for (size_t i = 0; i < n; i++) {
        const ell_entry *e = ents[i];
        const char *s[4] = {e->address, e->error, e->path, e->column};
        if ((const char *)e != base + i * stride)
            return 0;
        for (int j = 0; j < 4; j++) {
            if (s[j] < sent)
                return 0;
            if (s[j] >= head)
                head = s[j] + strlen(s[j]) + 1;
        }
    }
    const char *next = NULL;
    *data = NULL;
    for (size_t i = 0; i < n; i++) {
        const ell_entry *e = ents[i];
        if (e->data_size) {
            const char *d = (const char *)e->data;
            if (!next)
                *data = d;
            else if (d != next)
                return 0;
            next = d + e->data_size;
        }
    }
    return (size_t)(head - base);
}

/* The entries ents[0..n) as _SlabEntry objects when they are laid out as
 * newSlab writes them, else None (a new reference; NULL on error). */
static PyObject *slab_list(const ell_entry *const *ents, Py_ssize_t n, PyObject *cache) {
    const char *data;
    size_t head_len;
    if (n <= 0 || ents == NULL || !(head_len = slab_layout(ents, (size_t)n, &data)))
        Py_RETURN_NONE;
    const char *base = (const char *)ents[0];
    const size_t stride = sizeof(ell_entry) + sizeof(ell_entry_ext);
    PyObject *head = PyBytes_FromStringAndSize(base, (Py_ssize_t)head_len);
    PyObject *ctx = head ? Py_BuildValue("(NKO)", head, (unsigned long long)(uintptr_t)base, cache) : NULL;
    PyObject *out = ctx ? PyList_New(n) : NULL;
    if (out == NULL) {
        Py_XDECREF(ctx);
        return NULL;
    }
    size_t off = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const ell_entry *e = (const ell_entry *)(base + (size_t)i * stride);
        PyObject *r = slab_cls->tp_alloc(slab_cls, 0);
        if (r == NULL)
            goto fail;
        PyList_SET_ITEM(out, i, r);
        size_t len = (size_t)e->data_size;
        if (put(r, SLOT_DATA, PyBytes_FromStringAndSize(len ? data + off : NULL, (Py_ssize_t)len)) ||
            put(r, SLOT_STATUS, PyLong_FromLong(e->status)) ||
            put(r, SLOT_KEY_INDEX, PyLong_FromUnsignedLongLong(e->key_index)) ||
            put(r, SLOT_ROW, PyLong_FromSsize_t(i)) || put(r, SLOT_CTX, (Py_INCREF(ctx), ctx)))
            goto fail;
        off += len;
    }
    Py_DECREF(ctx);
    return out;
fail:
    Py_DECREF(ctx);
    Py_DECREF(out);
    return NULL;
}

/* slab_entries(ents, n, cache): entries ents[0..n) (an address of n
 * ell_entry pointers) as _SlabEntry objects when they are laid out as
 * newSlab writes them, else None. Each gets data (a copy of its bytes),
 * status and key_index, its row and the block's context (head, base, cache):
 * head is a copy of the structs and strings, from which _result._fill fills
 * the other fields on first use. */
static PyObject *slab_entries(PyObject *self, PyObject *args) {
    unsigned long long addr;
    Py_ssize_t n;
    PyObject *cache;
    if (!PyArg_ParseTuple(args, "KnO!", &addr, &n, &PyDict_Type, &cache))
        return NULL;
    if (slab_cls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "slab_entries: setup was not called");
        return NULL;
    }
    return slab_list((const ell_entry *const *)(uintptr_t)addr, n, cache);
}

/* ell_async_collect of the loaded libelliptics, given by set_collect: this
 * module does not link the library (cffi's elliptics._native loads it). */
typedef int32_t (*collect_fn)(ell_async_t, int64_t, ell_async_result *, const ell_entry **, size_t, ell_error *);
static collect_fn collect_p;

static PyObject *set_collect(PyObject *self, PyObject *arg) {
    void *p = PyLong_AsVoidPtr(arg);
    if (p == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "set_collect: NULL function");
        return NULL;
    }
    collect_p = (collect_fn)p;
    Py_RETURN_NONE;
}

/* collect(h, timeout_ms, info, ents, cap, err, build): ell_async_collect
 * with the GIL released (info, ents and err are addresses of the caller's
 * buffers). Returns its code when not ELL_OK; on completion, when build is
 * true, with status ELL_OK and 1..cap entries laid out as newSlab writes
 * them, their _SlabEntry list (the
 * get() of a single call: wait, status and entries in one call from Python,
 * where the cffi call and the copy were two and several lines of Python);
 * on any other completion None (the caller copies the result itself). */
static PyObject *collect(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "collect: 7 arguments");
        return NULL;
    }
    if (collect_p == NULL || slab_cls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "collect: set_collect and setup were not called");
        return NULL;
    }
    unsigned long long h = PyLong_AsUnsignedLongLong(args[0]);
    long long timeout = PyLong_AsLongLong(args[1]);
    void *info_p = PyLong_AsVoidPtr(args[2]);
    void *ents_p = PyLong_AsVoidPtr(args[3]);
    Py_ssize_t cap = PyLong_AsSsize_t(args[4]);
    void *err_p = PyLong_AsVoidPtr(args[5]);
    int build = PyObject_IsTrue(args[6]);
    if (build < 0 || PyErr_Occurred())
        return NULL;
    if (info_p == NULL || err_p == NULL || cap < 0 || (cap > 0 && ents_p == NULL)) {
        PyErr_SetString(PyExc_ValueError, "collect: NULL buffer");
        return NULL;
    }
    ell_async_result *info = info_p;
    const ell_entry **ents = ents_p;
    int32_t rc;
    Py_BEGIN_ALLOW_THREADS
    rc = collect_p((ell_async_t)h, (int64_t)timeout, info, ents, (size_t)cap, (ell_error *)err_p);
    Py_END_ALLOW_THREADS
    if (rc != 0)
        return PyLong_FromLong(rc);
    if (!build || info->status != 0 || info->count == 0 || info->count > (size_t)cap)
        Py_RETURN_NONE;
    PyObject *cache = PyDict_New();
    if (cache == NULL)
        return NULL;
    PyObject *out = slab_list(ents, (Py_ssize_t)info->count, cache);
    Py_DECREF(cache);
    return out;
}

/* Packs n byte strings back to back: (joined bytes, lengths as uint64 bytes). */
static PyObject *pack(const char *const *ps, const Py_ssize_t *ls, Py_ssize_t n, Py_ssize_t total) {
    PyObject *joined = PyBytes_FromStringAndSize(NULL, total);
    PyObject *lens = joined ? PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint64_t)) : NULL;
    if (lens == NULL) {
        Py_XDECREF(joined);
        return NULL;
    }
    char *j = PyBytes_AS_STRING(joined);
    uint64_t *l = (uint64_t *)PyBytes_AS_STRING(lens);
    for (Py_ssize_t i = 0; i < n; i++) {
        memcpy(j, ps[i], (size_t)ls[i]);
        j += ls[i];
        l[i] = (uint64_t)ls[i];
    }
    return Py_BuildValue("(NN)", joined, lens);
}

/* pack_names(keys): a list of non-empty str as (joined UTF-8, lengths as
 * uint64 bytes) for ell_session_bulk_*_names; None if any key is not a str
 * or is empty (the caller's general path handles and reports those). */
static PyObject *pack_names(PyObject *self, PyObject *keys) {
    if (!PyList_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "pack_names: keys must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys), total = 0;
    const char **ps = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ps));
    Py_ssize_t *ls = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ls));
    PyObject *res = NULL;
    if (ps == NULL || ls == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (!PyUnicode_CheckExact(k) || PyUnicode_GET_LENGTH(k) == 0) {
            Py_INCREF(Py_None);
            res = Py_None;
            goto out;
        }
        /* Cached in the str (no copy for ASCII). */
        if ((ps[i] = PyUnicode_AsUTF8AndSize(k, &ls[i])) == NULL)
            goto out;
        total += ls[i];
    }
    res = pack(ps, ls, n, total);
out:
    PyMem_Free(ps);
    PyMem_Free(ls);
    return res;
}

/* pack_values(values): a list of bytes-like objects as (joined bytes,
 * sizes in bytes as uint64 bytes); None if any has no contiguous buffer
 * (a str value: the caller's general path encodes or rejects it). */
static PyObject *pack_values(PyObject *self, PyObject *values) {
    if (!PyList_Check(values)) {
        PyErr_SetString(PyExc_TypeError, "pack_values: values must be a list");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(values), total = 0, got = 0;
    Py_buffer *bufs = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*bufs));
    const char **ps = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ps));
    Py_ssize_t *ls = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(*ls));
    PyObject *res = NULL;
    if (bufs == NULL || ps == NULL || ls == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (; got < n; got++) {
        PyObject *v = PyList_GET_ITEM(values, got);
        if (PyObject_GetBuffer(v, &bufs[got], PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            Py_INCREF(Py_None);
            res = Py_None;
            goto out;
        }
        ps[got] = bufs[got].buf;
        ls[got] = bufs[got].len;
        total += ls[got];
    }
    res = pack(ps, ls, n, total);
out:
    for (Py_ssize_t i = 0; i < got; i++)
        PyBuffer_Release(&bufs[i]);
    PyMem_Free(bufs);
    PyMem_Free(ps);
    PyMem_Free(ls);
    return res;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "setup(base, cls): the entry classes slab_entries fills."},
    {"slab_entries", slab_entries, METH_VARARGS,
     "slab_entries(ents, n, cache): the entries of a bulk call's block, or None."},
    {"set_collect", set_collect, METH_O, "set_collect(addr): the address of the library's ell_async_collect."},
    {"collect", (PyCFunction)(void (*)(void))collect, METH_FASTCALL,
     "collect(h, timeout_ms, info, ents, cap, err, build): wait and collect; rc, entries or None."},
    {"pack_names", pack_names, METH_O, "pack_names(keys): (joined, lens) of non-empty str keys, or None."},
    {"pack_values", pack_values, METH_O, "pack_values(values): (joined, sizes) of bytes-like values, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "elliptics._speedups", "The per-key loops of bulk calls in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
