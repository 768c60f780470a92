/* crdts._speedups, part 3: AWLWWMap.absorb of a put's delta, fused.
 *
 * absorb_put(xs, xvv, xcloud, dix, ds, dvv, dcloud) -> True | None | tuple | NotImplemented
 *     x.absorb(d) for x = (xs, CausalContext(xvv, xcloud)) with the dot -> key index dix (or
 *     None), and d = (ds, CausalContext(dvv, dcloud)) one record plus at most AB_FEW dots
 *     (the record's own among them): the rules of crdts/_awlwwmap_absorb.py (its docstring is
 *     the theory of operation), in one pass of dot lookups and without a Python call:
 *       None            d <= x: nothing changed;
 *       True            all of d was new: xs and xvv updated, nothing left to do (the caller
 *                       adds the record to dix when there is one, and returns d);
 *       (whole, new, dots, pending)
 *                       xs updated and the version-vector adds done; pending: the dots still
 *                       to add with CausalContext.add (their replica has a cloud here, or they
 *                       do not continue the version vector), or None; whole: return d, else
 *                       D = ({key: rec} if new else {}, CausalContext.from_dots(dots));
 *       NotImplemented  a shape or case left to the Python code (nothing changed): more
 *                       records or dots, a concurrent slot to rewrite, counters past 64 bits,
 *                       a big store without an index, anything unexpected.
 *
 * It reads only decoded objects (never bytes): the shapes are checked before any use, and any
 * surprise is NotImplemented, never a wrong answer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define AB_FEW 8   /* FEW in _awlwwmap_absorb.py */
#define AB_SCAN 32 /* SCAN in _awlwwmap_absorb.py */

typedef struct {
    PyObject *rep; /* borrowed from d's context (d is not changed) */
    long long c;
    int own;    /* the record's dot */
    int seen;   /* in x's context */
    int here;   /* held by x under d's key */
    PyObject *elsewhere; /* the key of x that holds it (a reference), or NULL */
} ADot;

static PyObject *str_b = NULL; /* "_b", Counters' bounds */

/* a positive int that fits a long long, else -1 (no exception) */
static long long ab_int(PyObject *o) {
    if (!PyLong_CheckExact(o)) return -1;
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || v < 0) {
        PyErr_Clear();
        return -1;
    }
    return v;
}

static int ab_same(PyObject *a, PyObject *b) {
    return a == b || (PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
                      PyUnicode_Compare(a, b) == 0);
}

/* a single record: a tuple of 4 or 5 whose replica is a str and counter a positive int */
static int ab_is_rec(PyObject *v) {
    return PyTuple_CheckExact(v) && PyTuple_GET_SIZE(v) >= 4 &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(v, 0));
}

/* c in Counters s (sorted disjoint runs [lo, hi) in a list or an array of u64): 1, 0; -1 with
 * an exception; -2 a shape we do not read */
static int ab_counters_has(PyObject *s, long long c) {
    PyObject *b = PyObject_GetAttr(s, str_b);
    if (b == NULL) {
        PyErr_Clear();
        return -2;
    }
    int res = -2;
    if (PyList_CheckExact(b)) {
        Py_ssize_t n = PyList_GET_SIZE(b), lo = 0, hi = n;
        if (n % 2) goto done;
        while (lo < hi) { /* bisect_right(b, c) */
            Py_ssize_t mid = (lo + hi) / 2;
            PyObject *o = PyList_GET_ITEM(b, mid);
            if (!PyLong_CheckExact(o)) goto done;
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
            if (v == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                goto done;
            }
            if (overflow < 0) goto done;
            if (overflow == 0 && v <= c)
                lo = mid + 1;
            else
                hi = mid; /* v > c (or past a long long) */
        }
        res = (int)(lo & 1);
    } else if (PyObject_CheckBuffer(b)) {
        Py_buffer view;
        if (PyObject_GetBuffer(b, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
            PyErr_Clear();
            goto done;
        }
        if (view.itemsize == 8 && view.format != NULL &&
            (strcmp(view.format, "Q") == 0 || strcmp(view.format, "L") == 0) &&
            (view.len / 8) % 2 == 0) {
            const uint64_t *p = (const uint64_t *)view.buf;
            Py_ssize_t lo = 0, hi = view.len / 8;
            while (lo < hi) {
                Py_ssize_t mid = (lo + hi) / 2;
                if (p[mid] <= (uint64_t)c)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            res = (int)(lo & 1);
        }
        PyBuffer_Release(&view);
    }
done:
    Py_DECREF(b);
    return res;
}

/* whether x's context (vv, cloud) holds (rep, c): 1, 0; -1 error; -2 not a shape we read */
static int ab_has(PyObject *vv, PyObject *cloud, PyObject *rep, long long c) {
    PyObject *top = PyDict_GetItemWithError(vv, rep);
    if (top == NULL) {
        if (PyErr_Occurred()) return -1;
    } else {
        long long t = ab_int(top);
        if (t < 0) return -2;
        if (c <= t) return 1;
    }
    if (PyDict_GET_SIZE(cloud) == 0) return 0;
    PyObject *s = PyDict_GetItemWithError(cloud, rep);
    if (s == NULL) return PyErr_Occurred() ? -1 : 0;
    return ab_counters_has(s, c);
}

/* index of the dot (rep, c) in the records of slot v (a record or a tuple of them), or -1;
 * -2: not a slot we read */
static Py_ssize_t ab_find(PyObject *v, PyObject *rep, long long c) {
    if (ab_is_rec(v)) {
        long long vc = ab_int(PyTuple_GET_ITEM(v, 1));
        if (vc < 1) return -2;
        return (vc == c && ab_same(PyTuple_GET_ITEM(v, 0), rep)) ? 0 : -1;
    }
    if (!PyTuple_CheckExact(v)) return -2;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
        PyObject *q = PyTuple_GET_ITEM(v, i);
        if (!ab_is_rec(q)) return -2;
        long long qc = ab_int(PyTuple_GET_ITEM(q, 1));
        if (qc < 1) return -2;
        if (qc == c && ab_same(PyTuple_GET_ITEM(q, 0), rep)) return i;
    }
    return -1;
}

/* append (rep, c) to list */
static int ab_append_dot(PyObject *list, PyObject *rep, long long c) {
    PyObject *t = Py_BuildValue("(OL)", rep, c);
    if (t == NULL) return -1;
    int rc = PyList_Append(list, t);
    Py_DECREF(t);
    return rc;
}

PyObject *dm_absorb_put(PyObject *self, PyObject *args) {
    PyObject *xs, *xvv, *xcloud, *dix, *ds, *dvv, *dcloud;
    if (!PyArg_ParseTuple(args, "O!O!O!OO!O!O!", &PyDict_Type, &xs, &PyDict_Type, &xvv,
                          &PyDict_Type, &xcloud, &dix, &PyDict_Type, &ds, &PyDict_Type, &dvv,
                          &PyDict_Type, &dcloud))
        return NULL;
    if (str_b == NULL) {
        str_b = PyUnicode_InternFromString("_b");
        if (str_b == NULL) return NULL;
    }
    if (dix != Py_None && !PyDict_CheckExact(dix)) Py_RETURN_NOTIMPLEMENTED;
    if (PyDict_GET_SIZE(ds) != 1 || xs == ds) Py_RETURN_NOTIMPLEMENTED;

    ADot dots[AB_FEW];
    int n = 0;
    PyObject *result = NULL, *xv = NULL, *pending = NULL, *ddots = NULL;
    PyObject *key, *rec, *k, *v;
    Py_ssize_t pos = 0;

    /* 1. d: one record, and at most AB_FEW dots of which the record's is one */
    PyDict_Next(ds, &pos, &key, &rec);
    if (!ab_is_rec(rec)) Py_RETURN_NOTIMPLEMENTED; /* concurrent records, or not ours */
    PyObject *r = PyTuple_GET_ITEM(rec, 0);
    long long c = ab_int(PyTuple_GET_ITEM(rec, 1));
    if (c < 1) Py_RETURN_NOTIMPLEMENTED;
    pos = 0;
    while (PyDict_Next(dvv, &pos, &k, &v)) {
        long long top = ab_int(v);
        if (!PyUnicode_CheckExact(k) || top < 0 || top > AB_FEW - n) Py_RETURN_NOTIMPLEMENTED;
        for (long long i = 1; i <= top; i++)
            dots[n++] = (ADot){k, i, 0, 0, 0, NULL};
    }
    pos = 0;
    while (PyDict_Next(dcloud, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) Py_RETURN_NOTIMPLEMENTED;
        PyObject *b = PyObject_GetAttr(v, str_b);
        if (b == NULL) {
            PyErr_Clear();
            Py_RETURN_NOTIMPLEMENTED;
        }
        int ok = PyList_CheckExact(b) && PyList_GET_SIZE(b) % 2 == 0;
        for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(b); i += 2) {
            long long lo = ab_int(PyList_GET_ITEM(b, i));
            long long hi = ab_int(PyList_GET_ITEM(b, i + 1));
            if (lo < 1 || hi <= lo || hi - lo > AB_FEW - n) {
                ok = 0;
                break;
            }
            for (long long j = lo; j < hi; j++) dots[n++] = (ADot){k, j, 0, 0, 0, NULL};
        }
        Py_DECREF(b);
        if (!ok) Py_RETURN_NOTIMPLEMENTED;
    }
    for (int i = 0; i < n; i++) /* a context lists each dot once (else: not a state we made) */
        for (int j = 0; j < i; j++)
            if (dots[i].c == dots[j].c && ab_same(dots[i].rep, dots[j].rep))
                Py_RETURN_NOTIMPLEMENTED;
    int own = -1;
    for (int i = 0; i < n; i++)
        if (dots[i].c == c && ab_same(dots[i].rep, r)) {
            dots[i].own = 1;
            own = i;
        }
    if (own < 0) Py_RETURN_NOTIMPLEMENTED; /* a record whose dot its context lacks */

    /* 2. which dots x has seen */
    int nseen = 0, nunseen = 0; /* of the dots other than the record's */
    for (int i = 0; i < n; i++) {
        int h = ab_has(xvv, xcloud, dots[i].rep, dots[i].c);
        if (h == -1) return NULL;
        if (h == -2) Py_RETURN_NOTIMPLEMENTED;
        dots[i].seen = h;
        if (!dots[i].own) {
            if (h)
                nseen++;
            else
                nunseen++;
        }
    }
    int isnew = !dots[own].seen;

    /* 3. the seen dots x still holds: under d's key, then elsewhere (scan or index) */
    xv = PyDict_GetItemWithError(xs, key);
    if (xv == NULL && PyErr_Occurred()) return NULL;
    Py_XINCREF(xv);
    int nhere = 0, nelse = 0, concurrent = xv != NULL && !ab_is_rec(xv);
    for (int i = 0; i < n && xv != NULL; i++) {
        if (dots[i].own || !dots[i].seen) continue;
        Py_ssize_t at = ab_find(xv, dots[i].rep, dots[i].c);
        if (at == -2) goto not_mine;
        if (at >= 0) {
            dots[i].here = 1;
            nhere++;
        }
    }
    if (concurrent && (isnew || nhere)) goto not_mine; /* a slot to rewrite: Python's */
    if (nhere < nseen) {
        if (dix != Py_None) {
            for (int i = 0; i < n; i++) {
                ADot *a = &dots[i];
                if (a->own || !a->seen || a->here) continue;
                PyObject *m = PyDict_GetItemWithError(dix, a->rep);
                if (m == NULL) {
                    if (PyErr_Occurred()) goto error;
                    continue;
                }
                if (!PyDict_CheckExact(m)) goto not_mine;
                PyObject *co = PyLong_FromLongLong(a->c);
                if (co == NULL) goto error;
                PyObject *k2 = PyDict_GetItemWithError(m, co);
                Py_DECREF(co);
                if (k2 == NULL) {
                    if (PyErr_Occurred()) goto error;
                    continue;
                }
                PyObject *v2 = PyDict_GetItemWithError(xs, k2); /* the index may be stale */
                if (v2 == NULL) {
                    if (PyErr_Occurred()) goto error;
                    continue;
                }
                Py_ssize_t at = ab_find(v2, a->rep, a->c);
                if (at == -2 || (at >= 0 && !ab_is_rec(v2))) goto not_mine;
                if (at >= 0) {
                    Py_INCREF(k2);
                    a->elsewhere = k2;
                    nelse++;
                }
            }
        } else if (PyDict_GET_SIZE(xs) <= AB_SCAN) {
            pos = 0;
            PyObject *v2;
            while (PyDict_Next(xs, &pos, &k, &v2)) {
                for (int i = 0; i < n; i++) {
                    ADot *a = &dots[i];
                    if (a->own || !a->seen || a->here || a->elsewhere) continue;
                    Py_ssize_t at = ab_find(v2, a->rep, a->c);
                    if (at == -2 || (at >= 0 && !ab_is_rec(v2))) goto not_mine;
                    if (at >= 0) {
                        Py_INCREF(k);
                        a->elsewhere = k;
                        nelse++;
                    }
                }
            }
        } else {
            goto not_mine; /* a big store without its index: Python builds it */
        }
    }
    if (!isnew && nunseen == 0 && nhere == 0 && nelse == 0) {
        Py_INCREF(Py_None);
        result = Py_None; /* d <= x */
        goto done;
    }

    /* 4. apply: d's key, the other keys holding a dot d dropped, then the context */
    if (xv == NULL) {
        if (isnew && PyDict_SetItem(xs, key, rec) < 0) goto error;
    } else if (nhere) { /* x's record (one: not concurrent) was superseded by d */
        if (isnew) {
            if (PyDict_SetItem(xs, key, rec) < 0) goto error;
        } else if (PyDict_DelItem(xs, key) < 0) {
            goto error;
        }
    } else if (isnew) { /* x's record and d's are concurrent: both stay, sorted by dot */
        PyObject *xr = PyTuple_GET_ITEM(xv, 0);
        int cmp = PyUnicode_Compare(xr, r);
        if (cmp == -1 && PyErr_Occurred()) goto error;
        if (cmp == 0) {
            long long xc = ab_int(PyTuple_GET_ITEM(xv, 1));
            if (xc < 1) goto error_state;
            cmp = xc < c ? -1 : 1;
        }
        PyObject *pair = cmp < 0 ? PyTuple_Pack(2, xv, rec) : PyTuple_Pack(2, rec, xv);
        if (pair == NULL) goto error;
        int rc = PyDict_SetItem(xs, key, pair);
        Py_DECREF(pair);
        if (rc < 0) goto error;
    }
    for (int i = 0; i < n; i++)
        if (dots[i].elsewhere != NULL && PyDict_DelItem(xs, dots[i].elsewhere) < 0) goto error;
    for (int i = 0; i < n; i++) {
        ADot *a = &dots[i];
        if (a->seen) continue; /* the unseen ones, the record's included when new */
        PyObject *top = PyDict_GetItemWithError(xvv, a->rep);
        if (top == NULL && PyErr_Occurred()) goto error;
        long long t = top == NULL ? 0 : ab_int(top);
        int in_cloud = PyDict_GET_SIZE(xcloud) ? PyDict_Contains(xcloud, a->rep) : 0;
        if (in_cloud < 0) goto error;
        if (!in_cloud && t >= 0 && a->c == t + 1) { /* continues the version vector */
            PyObject *co = PyLong_FromLongLong(a->c);
            if (co == NULL) goto error;
            int rc = PyDict_SetItem(xvv, a->rep, co);
            Py_DECREF(co);
            if (rc < 0) goto error;
            continue;
        }
        if (pending == NULL && (pending = PyList_New(0)) == NULL) goto error;
        if (ab_append_dot(pending, a->rep, a->c) < 0) goto error;
    }

    /* 5. what x lacked: all of d, or its unseen and held dots (and the record when new) */
    int whole = isnew && nhere + nelse == nseen;
    if (whole && pending == NULL) {
        Py_INCREF(Py_True);
        result = Py_True;
        goto done;
    }
    if (!whole) {
        if ((ddots = PyList_New(0)) == NULL) goto error;
        for (int i = 0; i < n; i++) {
            ADot *a = &dots[i];
            if ((!a->seen || a->here || a->elsewhere) && ab_append_dot(ddots, a->rep, a->c) < 0)
                goto error;
        }
    }
    result = Py_BuildValue("(OOOO)", whole ? Py_True : Py_False, isnew ? Py_True : Py_False,
                           ddots ? ddots : Py_None, pending ? pending : Py_None);
    goto done;

error_state:
    PyErr_SetString(PyExc_ValueError, "absorb_put: not an AWLWWMap store");
error:
    result = NULL;
    goto done;
not_mine:
    Py_INCREF(Py_NotImplemented);
    result = Py_NotImplemented;
done:
    for (int i = 0; i < n; i++) Py_XDECREF(dots[i].elsewhere);
    Py_XDECREF(xv);
    Py_XDECREF(pending);
    Py_XDECREF(ddots);
    return result;
}
