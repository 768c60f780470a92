/* crdts._speedups: the optional compiled hot loops of the AWLWWMap codec.
 *
 * Built by setup.py when a C compiler is present (the build is optional: without it, or with
 * DELTAMESH_PURE=1 at run time, crdts uses the pure-Python code in _awlwwmap_codec.py, which
 * produces the same bodies except for the key column's method; both decoders read both).
 *
 * cols(store, canonical, want_blob, want_counters, min_entries) -> tuple | None
 *     The columns of a big state whose every slot is one record of one shape, in one pass over
 *     the dict (the pure code takes ~10 passes): the Python fast path's order rules, its
 *     timestamp kinds 3 and 4 and its byte columns, and the keys front-coded into one bytes
 *     object (see _awlwwmap_codec.py, "key methods"). None: let the Python code do it.
 *
 * merge_scan(xs, ys, xvv, xcloud, yvv, ycloud, want_added, scan) -> (deferred, cand, added)
 *     The two scans of AWLWWMap._merge (the same rules), for the keys whose fate the version
 *     vectors decide: a key of ys that xs lacks and has never seen is added, a key whose
 *     records have the same dot is skipped, one record superseded by the other is replaced or
 *     deleted (an added or replaced key is listed in added when asked); every other key of ys
 *     (concurrent entries, dots in a cloud) is deferred to the Python code. With scan, the keys
 *     only xs holds whose dot yvv covers are deleted, and those that need ycloud or hold
 *     concurrent entries are returned as candidates; the scan is skipped when a count shows
 *     that no such key exists. Each replica's version-vector entry and cloud membership is
 *     looked up once per call (RepCache), not once per record.
 *
 * diff_scan(xs, yvv, ycloud) -> (store, deferred)
 *     AWLWWMap.diff's first scan: the single records of xs whose dot yvv does not cover and
 *     whose replica has no ycloud; other slots are deferred to the Python code.
 * dropped_scan(xs, ys, xvv, xcloud) -> (dots, deferred)
 *     _dropped in _awlwwmap.py for the single records of ys that xvv decides (seen here, and xs
 *     holds no record of that dot under that key); other slots are deferred.
 * build_index(store) -> (dix, n)
 *     AWLWWMap's dot -> key index ({replica: {counter: key}}) and the number of dots in it.
 *
 * canonical(store, vv, cloud, tag, version) -> bytes | None
 *     crdts.encode(x, canonical=True) of a small AWLWWMap in one pass (in _speedups_pack.c).
 * decode_one(data, tag, max_version) -> tuple | None
 *     The parts of a message holding a one-entry AWLWWMap (a put's delta), read straight
 *     from peer bytes (in _speedups_pack.c).
 *
 * absorb_put(xs, xvv, xcloud, dix, ds, dvv, dcloud) -> True | None | tuple | NotImplemented
 *     AWLWWMap.absorb of a put's delta, fused (in _speedups_absorb.c).
 *
 * unfront(raw, n) -> list[str]
 *     The inverse of the front-coded key bytes; ValueError on anything malformed.
 *
 * Only our own store goes into cols (it never sees peer data); unfront reads peer data and
 * checks every byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 256
#define MAX_SHARED_PREFIX 64

typedef struct {
    PyObject *key;
    PyObject *rec;
    int64_t ctr;
    int64_t ts;      /* the wall (or int timestamp) */
    int64_t logical; /* -1: not in 0..255 */
    int32_t rank;    /* the replica's id, then its rank in str order */
} Ent;

static int ent_cmp(const void *a, const void *b) {
    const Ent *x = (const Ent *)a, *y = (const Ent *)b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    if (x->ctr != y->ctr) return x->ctr < y->ctr ? -1 : 1;
    return 0;
}

/* index of rep in reps[0..*nreps), adding it; -1 when there are too many */
static int rep_id(PyObject *rep, PyObject **reps, int *nreps) {
    for (int i = 0; i < *nreps; i++)
        if (reps[i] == rep) return i;
    for (int i = 0; i < *nreps; i++) {
        if (PyUnicode_GET_LENGTH(reps[i]) == PyUnicode_GET_LENGTH(rep) &&
            PyUnicode_Compare(reps[i], rep) == 0)
            return i;
    }
    if (*nreps >= MAX_REPS) return -1;
    reps[*nreps] = rep;
    return (*nreps)++;
}

static PyObject *int128_obj(__int128 v) {
    if (v >= INT64_MIN && v <= INT64_MAX) return PyLong_FromLongLong((long long)v);
    if (v >= 0 && v <= (__int128)UINT64_MAX) return PyLong_FromUnsignedLongLong((unsigned long long)v);
    return NULL;
}

/* a column of n ints: bytes when n >= min_entries and all are in 0..255, else a list;
 * *fail set (and NULL returned without an exception) when a value leaves the 64-bit range */
static PyObject *int_col(const __int128 *xs, Py_ssize_t n, Py_ssize_t min_entries, int *fail) {
    int small = n >= min_entries;
    for (Py_ssize_t i = 0; small && i < n; i++)
        if (xs[i] < 0 || xs[i] > 255) small = 0;
    if (small) {
        PyObject *b = PyBytes_FromStringAndSize(NULL, n);
        if (b == NULL) return NULL;
        unsigned char *p = (unsigned char *)PyBytes_AS_STRING(b);
        for (Py_ssize_t i = 0; i < n; i++) p[i] = (unsigned char)xs[i];
        return b;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (xs[i] < -((__int128)1 << 63) || xs[i] > (__int128)UINT64_MAX) {
            *fail = 1;
            return NULL;
        }
    }
    PyObject *l = PyList_New(n);
    if (l == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = int128_obj(xs[i]);
        if (o == NULL) {
            Py_DECREF(l);
            return NULL;
        }
        PyList_SET_ITEM(l, i, o);
    }
    return l;
}

/* the UTF-8 of a str key (borrowed pointer into the object or into *tmp); NULL, no exception,
 * when it has none (lone surrogates) */
static const char *key_utf8(PyObject *key, Py_ssize_t *len, PyObject **tmp) {
    *tmp = NULL;
    if (PyUnicode_IS_COMPACT_ASCII(key)) {
        *len = PyUnicode_GET_LENGTH(key);
        return (const char *)PyUnicode_DATA(key);
    }
    *tmp = PyUnicode_AsUTF8String(key);
    if (*tmp == NULL) {
        PyErr_Clear();
        return NULL;
    }
    *len = PyBytes_GET_SIZE(*tmp);
    return PyBytes_AS_STRING(*tmp);
}

/* the keys front-coded (one record per key: 1 + shared prefix bytes, the rest, NUL); Py_None
 * when some key is not a str, holds a NUL or has no UTF-8 */
static PyObject *front_code(const Ent *ents, Py_ssize_t n) {
    Py_ssize_t cap = 16 * n + 64; /* grown as needed */
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    const char *prev = NULL;
    Py_ssize_t plen = 0;
    PyObject *ptmp = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tmp = NULL;
        Py_ssize_t len;
        const char *s = NULL;
        if (PyUnicode_CheckExact(ents[i].key)) s = key_utf8(ents[i].key, &len, &tmp);
        if (s == NULL || memchr(s, 0, (size_t)len) != NULL) {
            Py_XDECREF(tmp);
            Py_XDECREF(ptmp);
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        if (pos + len + 2 > cap) {
            /* prev may point into ptmp, never into out: growing out is safe */
            while (pos + len + 2 > cap) cap *= 2;
            if (_PyBytes_Resize(&out, cap) < 0) {
                Py_XDECREF(tmp);
                Py_XDECREF(ptmp);
                return NULL;
            }
        }
        char *buf = PyBytes_AS_STRING(out);
        Py_ssize_t m = len < plen ? len : plen;
        if (m > MAX_SHARED_PREFIX) m = MAX_SHARED_PREFIX;
        Py_ssize_t p = 0;
        while (p < m && s[p] == prev[p]) p++;
        buf[pos++] = (char)(p + 1);
        memcpy(buf + pos, s + p, (size_t)(len - p));
        pos += len - p;
        buf[pos++] = 0;
        Py_XDECREF(ptmp);
        ptmp = tmp;
        prev = s;
        plen = len;
    }
    Py_XDECREF(ptmp);
    if (_PyBytes_Resize(&out, pos) < 0) return NULL;
    return out;
}

/* a list of item j of each entry's record (new references) */
static PyObject *rec_items(const Ent *ents, Py_ssize_t n, Py_ssize_t j) {
    PyObject *l = PyList_New(n);
    if (l == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(ents[i].rec, j);
        Py_INCREF(x);
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

static PyObject *cols(PyObject *self, PyObject *args) {
    PyObject *store;
    int canonical, want_blob, want_counters;
    Py_ssize_t min_entries;
    if (!PyArg_ParseTuple(args, "O!pppn", &PyDict_Type, &store, &canonical, &want_blob,
                          &want_counters, &min_entries))
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(store);
    if (n < 2 || n < min_entries) Py_RETURN_NONE;

    PyObject *result = NULL;
    Ent *ents = PyMem_Malloc(sizeof(Ent) * (size_t)n);
    __int128 *col = PyMem_Malloc(sizeof(__int128) * (size_t)n);
    PyObject *reps[MAX_REPS];
    int32_t rank[MAX_REPS];
    int nreps = 0;
    PyObject *runs = NULL, *gaps = NULL, *keycol = NULL, *values = NULL, *ts = NULL;
    PyObject *counters = NULL, *wcol = NULL, *lcol = NULL;
    int fail = 0, small_logicals = 1;
    if (!ents || !col) {
        PyErr_NoMemory();
        goto done;
    }

    /* 1. one pass over the records (everything later reads ents): every slot one record (a
     * tuple of 4 or 5, all alike), a str replica, a counter in 1..2**63-1, an int timestamp
     * (or HLC wall) that fits 64 bits, an int logical */
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    Py_ssize_t width = -1;
    while (PyDict_Next(store, &pos, &k, &v)) {
        if (!PyTuple_CheckExact(v)) goto none;
        Py_ssize_t w = PyTuple_GET_SIZE(v);
        if (width < 0) {
            if (w != 4 && w != 5) goto none;
            width = w;
        } else if (w != width) {
            goto none;
        }
        PyObject *rep = PyTuple_GET_ITEM(v, 0), *c = PyTuple_GET_ITEM(v, 1);
        PyObject *t = PyTuple_GET_ITEM(v, 3);
        if (!PyUnicode_CheckExact(rep) || !PyLong_CheckExact(c) || !PyLong_CheckExact(t))
            goto none;
        int overflow;
        long long cv = PyLong_AsLongLongAndOverflow(c, &overflow);
        if (overflow || cv < 1) goto none;
        long long tv = PyLong_AsLongLongAndOverflow(t, &overflow);
        if (overflow) goto none;
        Ent *e = &ents[i];
        e->logical = -1;
        if (w == 5) {
            PyObject *l = PyTuple_GET_ITEM(v, 4);
            if (!PyLong_CheckExact(l)) goto none;
            long long lv = PyLong_AsLongLongAndOverflow(l, &overflow);
            if (!overflow && lv >= 0 && lv <= 255)
                e->logical = lv;
            else
                small_logicals = 0;
        }
        int id = rep_id(rep, reps, &nreps);
        if (id < 0) goto none;
        e->key = k;
        e->rec = v;
        e->ctr = cv;
        e->ts = tv;
        e->rank = id;
        i++;
    }
    if (i != n) goto none; /* the dict changed under us (it cannot: we hold the GIL) */

    /* ranks: the replicas in str order */
    for (int a = 0; a < nreps; a++) {
        int r = 0;
        for (int b = 0; b < nreps; b++) {
            int cmp = PyUnicode_Compare(reps[b], reps[a]);
            if (cmp == -1 && PyErr_Occurred()) goto done;
            if (cmp < 0) r++;
        }
        rank[a] = r;
    }
    PyObject *rep_of[MAX_REPS];
    for (int a = 0; a < nreps; a++) rep_of[rank[a]] = reps[a];
    if (nreps > 1)
        for (i = 0; i < n; i++) ents[i].rank = rank[ents[i].rank];

    /* 2. the order: the dict's own when its runs qualify (as _runs_of), else by dot */
    Py_ssize_t nruns = 1;
    int ok = 1;
    for (i = 1; i < n; i++) {
        if (ents[i].rank != ents[i - 1].rank) {
            nruns++;
            if (canonical && ents[i].rank < ents[i - 1].rank) ok = 0;
        } else if (ents[i].ctr <= ents[i - 1].ctr) {
            ok = 0;
        }
    }
    if (nreps > 1 && nruns > 16 + n / 16) ok = 0;
    if (canonical && nruns != nreps) ok = 0;
    if (!ok) {
        qsort(ents, (size_t)n, sizeof(Ent), ent_cmp);
        nruns = 1;
        for (i = 1; i < n; i++) {
            if (ents[i].rank != ents[i - 1].rank)
                nruns++;
            else if (ents[i].ctr == ents[i - 1].ctr)
                goto none; /* a dot twice: not a state we made */
        }
    }

    /* 3. the columns */
    runs = PyList_New(0);
    if (runs == NULL) goto done;
    Py_ssize_t start = 0;
    for (i = 1; i <= n; i++) {
        if (i == n || ents[i].rank != ents[start].rank) {
            PyObject *t = Py_BuildValue("(On)", rep_of[ents[start].rank], i - start);
            if (t == NULL || PyList_Append(runs, t) < 0) {
                Py_XDECREF(t);
                goto done;
            }
            Py_DECREF(t);
            start = i;
        }
    }
    for (i = 0; i < n; i++)
        col[i] = (i == 0 || ents[i].rank != ents[i - 1].rank) ? ents[i].ctr
                                                              : ents[i].ctr - ents[i - 1].ctr;
    gaps = int_col(col, n, min_entries, &fail);
    if (gaps == NULL) goto fail_or_error;
    if (want_counters) {
        counters = rec_items(ents, n, 1);
        if (counters == NULL) goto done;
    } else {
        counters = PyLong_FromSsize_t(n); /* only the count */
        if (counters == NULL) goto done;
    }
    values = rec_items(ents, n, 2);
    if (values == NULL) goto done;

    /* timestamps: walls (or int stamps) as base + differences, logicals as they are */
    col[0] = 0;
    for (i = 1; i < n; i++) col[i] = (__int128)ents[i].ts - ents[i - 1].ts;
    wcol = int_col(col, n, min_entries, &fail);
    if (wcol == NULL) goto fail_or_error;
    PyObject *base = PyTuple_GET_ITEM(ents[0].rec, 3);
    if (width == 5) {
        if (small_logicals) {
            for (i = 0; i < n; i++) col[i] = ents[i].logical;
            lcol = int_col(col, n, min_entries, &fail);
        } else {
            lcol = rec_items(ents, n, 4);
        }
        if (lcol == NULL) goto fail_or_error;
        ts = Py_BuildValue("[OOO]", base, wcol, lcol);
    } else {
        ts = Py_BuildValue("[OO]", base, wcol);
    }
    if (ts == NULL) goto done;

    /* keys: front-coded bytes, or the list in column order */
    if (want_blob) {
        keycol = front_code(ents, n);
        if (keycol == NULL) goto done;
    }
    if (keycol == NULL || keycol == Py_None) {
        Py_XDECREF(keycol);
        keycol = PyList_New(n);
        if (keycol == NULL) goto done;
        for (i = 0; i < n; i++) {
            Py_INCREF(ents[i].key);
            PyList_SET_ITEM(keycol, i, ents[i].key);
        }
    }
    result = Py_BuildValue("(OOOOOiO)", runs, counters, gaps, keycol, values,
                           width == 5 ? 3 : 4, ts);
    goto done;

fail_or_error:
    if (PyErr_Occurred()) goto done;
none:
    Py_INCREF(Py_None);
    result = Py_None;
done:
    Py_XDECREF(runs);
    Py_XDECREF(gaps);
    Py_XDECREF(counters);
    Py_XDECREF(keycol);
    Py_XDECREF(values);
    Py_XDECREF(wcol);
    Py_XDECREF(lcol);
    Py_XDECREF(ts);
    PyMem_Free(ents);
    PyMem_Free(col);
    return result;
}

static PyObject *unfront(PyObject *self, PyObject *args) {
    Py_buffer raw;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y*n", &raw, &n)) return NULL;
    const char *buf = raw.buf;
    Py_ssize_t len = raw.len, pos = 0;
    PyObject *out = NULL;
    char *key = NULL;
    Py_ssize_t kcap = 256, klen = 0;
    if (n < 0 || n > len) {
        PyErr_SetString(PyExc_ValueError, "front-coded keys: wrong count");
        goto bad;
    }
    out = PyList_New(n);
    key = PyMem_Malloc((size_t)kcap);
    if (out == NULL || key == NULL) {
        if (key == NULL) PyErr_NoMemory();
        goto bad;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos >= len) {
            PyErr_SetString(PyExc_ValueError, "front-coded keys: fewer keys than entries");
            goto bad;
        }
        Py_ssize_t p = (unsigned char)buf[pos] - 1;
        if (p < 0 || p > MAX_SHARED_PREFIX || p > klen) {
            PyErr_SetString(PyExc_ValueError, "front-coded keys: bad shared prefix");
            goto bad;
        }
        pos++;
        const char *end = memchr(buf + pos, 0, (size_t)(len - pos));
        if (end == NULL) {
            PyErr_SetString(PyExc_ValueError, "front-coded keys: truncated");
            goto bad;
        }
        Py_ssize_t slen = end - (buf + pos);
        if (p + slen > kcap) {
            while (p + slen > kcap) kcap *= 2;
            char *k2 = PyMem_Realloc(key, (size_t)kcap);
            if (k2 == NULL) {
                PyErr_NoMemory();
                goto bad;
            }
            key = k2;
        }
        memcpy(key + p, buf + pos, (size_t)slen);
        klen = p + slen;
        pos += slen + 1;
        PyObject *s = PyUnicode_DecodeUTF8(key, klen, "strict");
        if (s == NULL) goto bad;
        PyList_SET_ITEM(out, i, s);
    }
    if (pos != len) {
        PyErr_SetString(PyExc_ValueError, "front-coded keys: more keys than entries");
        goto bad;
    }
    PyMem_Free(key);
    PyBuffer_Release(&raw);
    return out;
bad:
    Py_XDECREF(out);
    PyMem_Free(key);
    PyBuffer_Release(&raw);
    return NULL;
}

/* the counter of a record slot, or -1 when the slot is not one record (a tuple of concurrent
 * records, or anything unexpected: the Python code decides) */
static long long rec_counter(PyObject *v) {
    if (!PyTuple_CheckExact(v) || PyTuple_GET_SIZE(v) < 4) return -1;
    if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(v, 0))) return -1;
    PyObject *c = PyTuple_GET_ITEM(v, 1);
    if (!PyLong_CheckExact(c)) return -1;
    /* a counter is almost always a small int: read it without the general conversion (a
     * tenth of a big merge's instructions went there) */
#if PY_VERSION_HEX >= 0x030C0000
    if (PyUnstable_Long_IsCompact((PyLongObject *)c)) {
        Py_ssize_t n = PyUnstable_Long_CompactValue((PyLongObject *)c);
        return n < 1 ? -1 : (long long)n;
    }
#else
    if (Py_SIZE(c) == 1) {
        long long n = (long long)((PyLongObject *)c)->ob_digit[0];
        return n < 1 ? -1 : n;
    }
#endif
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(c, &overflow);
    if (overflow || n < 1) return -1;
    return n;
}

/* vv.get(rep, 0) as a C long long; -1 with an exception on error, -2 when not an int */
static long long vv_get(PyObject *vv, PyObject *rep) {
    PyObject *top = PyDict_GetItemWithError(vv, rep);
    if (top == NULL) return PyErr_Occurred() ? -1 : 0;
    if (!PyLong_CheckExact(top)) return -2;
    int overflow;
    long long t = PyLong_AsLongLongAndOverflow(top, &overflow);
    return (overflow || t < 0) ? -2 : t;
}

/* A replica's entry in one side's context, looked up once per scan: a big state names a
 * few replicas, so the per-record dict lookups of its version vector and cloud (most of a big
 * merge's lookups) become a pointer comparison. Replica strings are held (a reference each)
 * while cached, so a pointer cannot be reused by another string during the scan; an unseen
 * replica past REP_CACHE slots takes the dict lookups as before. */
#define REP_CACHE 8

typedef struct {
    PyObject *vv, *cloud;
    int n;
    PyObject *rep[REP_CACHE];
    long long top[REP_CACHE]; /* vv_get's result: >= 0, or -2 (not an int) */
    int in_cloud[REP_CACHE];
} RepCache;

static void rep_cache_init(RepCache *rc, PyObject *vv, PyObject *cloud) {
    rc->vv = vv;
    rc->cloud = cloud;
    rc->n = 0;
}

static void rep_cache_clear(RepCache *rc) {
    for (int i = 0; i < rc->n; i++) Py_DECREF(rc->rep[i]);
    rc->n = 0;
}

/* the slot of rep (its top and cloud membership), or -1 with an exception; -2: not cached
 * (cache full), *top and *in_cloud set from the dicts */
static int rep_lookup(RepCache *rc, PyObject *rep, long long *top, int *in_cloud) {
    for (int i = 0; i < rc->n; i++)
        if (rc->rep[i] == rep) {
            *top = rc->top[i];
            *in_cloud = rc->in_cloud[i];
            return i;
        }
    long long t = vv_get(rc->vv, rep);
    if (t == -1) return -1;
    int c = PyDict_GET_SIZE(rc->cloud) == 0 ? 0 : PyDict_Contains(rc->cloud, rep);
    if (c < 0) return -1;
    *top = t;
    *in_cloud = c;
    if (rc->n == REP_CACHE) return -2;
    Py_INCREF(rep);
    rc->rep[rc->n] = rep;
    rc->top[rc->n] = t;
    rc->in_cloud[rc->n] = c;
    return rc->n++;
}

/* vv.get(rep, 0) through the cache: as vv_get */
static long long rep_top(RepCache *rc, PyObject *rep) {
    long long t;
    int c;
    return rep_lookup(rc, rep, &t, &c) == -1 ? -1 : t;
}

/* rep in cloud through the cache: 1, 0, or -1 with an exception */
static int rep_in_cloud(RepCache *rc, PyObject *rep) {
    long long t;
    int c;
    return rep_lookup(rc, rep, &t, &c) == -1 ? -1 : c;
}

static int same_rep(PyObject *a, PyObject *b) {
    return a == b || (PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
                      PyUnicode_Compare(a, b) == 0);
}

static PyObject *merge_scan(PyObject *self, PyObject *args) {
    PyObject *xs, *ys, *xvv, *xcloud, *yvv_all, *ycloud_all, *yvv;
    int want_added, scan;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!pp", &PyDict_Type, &xs, &PyDict_Type, &ys,
                          &PyDict_Type, &xvv, &PyDict_Type, &xcloud, &PyDict_Type, &yvv_all,
                          &PyDict_Type, &ycloud_all, &want_added, &scan))
        return NULL;
    yvv = scan ? yvv_all : Py_None;
    PyObject *ycloud = ycloud_all;
    if (xs == ys) {
        PyErr_SetString(PyExc_ValueError, "merge_scan: bad arguments");
        return NULL;
    }
    PyObject *deferred = PyList_New(0), *cand = PyList_New(0), *dead = PyList_New(0);
    PyObject *dead1 = PyList_New(0);
    PyObject *added = want_added ? PyList_New(0) : Py_None;
    PyObject *result = NULL;
    RepCache xrc, yrc;
    rep_cache_init(&xrc, xvv, xcloud);
    rep_cache_init(&yrc, yvv_all, ycloud_all);
    if (added == Py_None) Py_INCREF(Py_None);
    if (!deferred || !cand || !dead || !dead1 || !added) goto done;

    /* seen_held: entries of xs that yvv covers and ys holds under the same key; when it equals
     * the number of entries of xs that yvv covers (and ycloud is empty, and xs holds no
     * concurrent entries), no entry only xs holds can have been seen by y: step 2 is skipped */
    Py_ssize_t seen_held = 0;
    int count_ok = yvv != Py_None && PyDict_GET_SIZE(ycloud) == 0;
    PyObject *key, *yv;

    /* the entries of xs that yvv covers, before step 1 adds any (a pass without lookups) */
    Py_ssize_t seen = 0, pos = 0;
    int skip_scan = 0;
    if (count_ok) {
        PyObject *xv;
        while (PyDict_Next(xs, &pos, &key, &xv)) {
            long long xn = rec_counter(xv);
            if (xn < 0) {
                count_ok = 0;
                break;
            }
            long long top = rep_top(&yrc, PyTuple_GET_ITEM(xv, 0));
            if (top == -1) goto done;
            if (top == -2) {
                count_ok = 0;
                break;
            }
            if (xn <= top) seen++;
        }
    }

    /* 1. every key the other side holds: the cases that need no decision, here */
    pos = 0;
    while (PyDict_Next(ys, &pos, &key, &yv)) {
        PyObject *xv = PyDict_GetItemWithError(xs, key);
        if (xv == NULL && PyErr_Occurred()) goto done;
        long long xn = xv == NULL ? -1 : rec_counter(xv);
        if (count_ok && xv != NULL) {
            if (xn < 0) {
                count_ok = 0;
            } else {
                long long top = rep_top(&yrc, PyTuple_GET_ITEM(xv, 0));
                if (top == -1) goto done;
                if (top == -2) count_ok = 0;
                else if (xn <= top) seen_held++;
            }
        }
        long long yn = rec_counter(yv);
        if (yn < 0) goto defer;
        if (xv == NULL) {
            PyObject *yr = PyTuple_GET_ITEM(yv, 0);
            long long top = rep_top(&xrc, yr);
            if (top == -1) goto done;
            if (top == -2) goto defer;
            if (yn <= top) continue; /* seen here and dropped */
            int in_cloud = rep_in_cloud(&xrc, yr);
            if (in_cloud < 0) goto done;
            if (in_cloud) goto defer;
            if (PyDict_SetItem(xs, key, yv) < 0) goto done;
            if (want_added && PyList_Append(added, key) < 0) goto done;
            continue;
        }
        if (xv == yv) continue;
        if (xn < 0) goto defer;
        PyObject *xr = PyTuple_GET_ITEM(xv, 0), *yr = PyTuple_GET_ITEM(yv, 0);
        if (xn == yn && same_rep(xr, yr)) continue;
        /* two single records, different dots, where the version vectors decide (neither
         * replica in the other side's cloud): as the Python code, y's replaces x's when x never
         * saw it and y saw x's; x's goes when both saw each other's; x's stays when y's was seen
         * here and y never saw x's; concurrent (neither saw the other): deferred */
        {
            int xc_in = rep_in_cloud(&xrc, yr);
            if (xc_in < 0) goto done;
            if (xc_in) goto defer;
            int yc_in = rep_in_cloud(&yrc, xr);
            if (yc_in < 0) goto done;
            if (yc_in) goto defer;
            long long xtop = rep_top(&xrc, yr), ytop = rep_top(&yrc, xr);
            if (xtop == -1 || ytop == -1) goto done;
            if (xtop == -2 || ytop == -2) goto defer;
            int keep_y = yn > xtop;  /* x never saw y's entry */
            if (xn <= ytop) {        /* y saw x's entry (and superseded it) */
                if (keep_y) {
                    if (PyDict_SetItem(xs, key, yv) < 0) goto done;
                    if (want_added && PyList_Append(added, key) < 0) goto done;
                } else {
                    if (PyList_Append(dead1, key) < 0) goto done;
                }
                continue;
            }
            if (!keep_y) continue; /* x's stays: y's was seen here and dropped */
            /* concurrent: both stay (a tuple sorted by dot): the Python code builds it */
        }
    defer:
        if (PyList_Append(deferred, key) < 0) goto done;
    }

    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dead1); i++)
        if (PyDict_DelItem(xs, PyList_GET_ITEM(dead1, i)) < 0) goto done;

    /* 2. entries only this side holds die if the other side saw their dots (counters up to
     * its version vector here; its cloud and concurrent entries in Python) */
    if (count_ok && seen == seen_held) skip_scan = 1;
    if (yvv != Py_None && !skip_scan) {
        pos = 0;
        PyObject *xv;
        while (PyDict_Next(xs, &pos, &key, &xv)) {
            int in_y = PyDict_Contains(ys, key);
            if (in_y < 0) goto done;
            if (in_y) continue;
            long long xn = rec_counter(xv);
            if (xn < 0) {
                if (PyList_Append(cand, key) < 0) goto done;
                continue;
            }
            PyObject *xr = PyTuple_GET_ITEM(xv, 0);
            long long top = rep_top(&yrc, xr);
            if (top == -1) goto done;
            if (top != -2 && xn <= top) {
                if (PyList_Append(dead, key) < 0) goto done;
                continue;
            }
            int in_cloud = top == -2 ? 1 : rep_in_cloud(&yrc, xr);
            if (in_cloud < 0) goto done;
            if (in_cloud && PyList_Append(cand, key) < 0) goto done;
        }
        Py_ssize_t nd = PyList_GET_SIZE(dead);
        for (Py_ssize_t i = 0; i < nd; i++)
            if (PyDict_DelItem(xs, PyList_GET_ITEM(dead, i)) < 0) goto done;
    }
    result = PyTuple_Pack(3, deferred, cand, added);
done:
    rep_cache_clear(&xrc);
    rep_cache_clear(&yrc);
    Py_XDECREF(deferred);
    Py_XDECREF(cand);
    Py_XDECREF(dead);
    Py_XDECREF(dead1);
    Py_XDECREF(added);
    return result;
}

static PyObject *diff_scan(PyObject *self, PyObject *args) {
    PyObject *xs, *yvv, *ycloud;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyDict_Type, &xs, &PyDict_Type, &yvv, &PyDict_Type,
                          &ycloud))
        return NULL;
    PyObject *store = PyDict_New(), *deferred = PyList_New(0), *result = NULL;
    if (!store || !deferred) goto done;
    Py_ssize_t pos = 0;
    PyObject *key, *v;
    while (PyDict_Next(xs, &pos, &key, &v)) {
        long long c = rec_counter(v);
        if (c < 0) goto defer;
        PyObject *r = PyTuple_GET_ITEM(v, 0);
        long long top = vv_get(yvv, r);
        if (top == -1) goto done;
        if (top == -2) goto defer;
        if (c <= top) continue; /* the other side has seen it */
        int in_cloud = PyDict_Contains(ycloud, r);
        if (in_cloud < 0) goto done;
        if (in_cloud) goto defer;
        if (PyDict_SetItem(store, key, v) < 0) goto done;
        continue;
    defer:
        if (PyList_Append(deferred, key) < 0) goto done;
    }
    result = PyTuple_Pack(2, store, deferred);
done:
    Py_XDECREF(store);
    Py_XDECREF(deferred);
    return result;
}

static PyObject *dropped_scan(PyObject *self, PyObject *args) {
    PyObject *xs, *ys, *xvv, *xcloud;
    if (!PyArg_ParseTuple(args, "O!O!O!O!", &PyDict_Type, &xs, &PyDict_Type, &ys, &PyDict_Type,
                          &xvv, &PyDict_Type, &xcloud))
        return NULL;
    PyObject *dots = PyList_New(0), *deferred = PyList_New(0), *result = NULL;
    if (!dots || !deferred) goto done;
    Py_ssize_t pos = 0;
    PyObject *key, *yv;
    while (PyDict_Next(ys, &pos, &key, &yv)) {
        long long yn = rec_counter(yv);
        if (yn < 0) goto defer;
        PyObject *r = PyTuple_GET_ITEM(yv, 0);
        long long top = vv_get(xvv, r);
        if (top == -1) goto done;
        if (top == -2) goto defer;
        if (yn > top) {
            int in_cloud = PyDict_Contains(xcloud, r);
            if (in_cloud < 0) goto done;
            if (in_cloud) goto defer;
            continue; /* never seen here */
        }
        PyObject *xv = PyDict_GetItemWithError(xs, key);
        if (xv == NULL && PyErr_Occurred()) goto done;
        if (xv == yv) continue;
        if (xv != NULL) {
            long long xn = rec_counter(xv);
            if (xn < 0) goto defer;
            if (xn == yn && same_rep(PyTuple_GET_ITEM(xv, 0), r)) continue;
        }
        {
            PyObject *dot = PyTuple_Pack(2, r, PyTuple_GET_ITEM(yv, 1));
            if (dot == NULL || PyList_Append(dots, dot) < 0) {
                Py_XDECREF(dot);
                goto done;
            }
            Py_DECREF(dot);
        }
        continue;
    defer:
        if (PyList_Append(deferred, key) < 0) goto done;
    }
    result = PyTuple_Pack(2, dots, deferred);
done:
    Py_XDECREF(dots);
    Py_XDECREF(deferred);
    return result;
}

static int index_add(PyObject *dix, PyObject *rec, PyObject *key) {
    PyObject *r = PyTuple_GET_ITEM(rec, 0);
    PyObject *m = PyDict_GetItemWithError(dix, r);
    if (m == NULL) {
        if (PyErr_Occurred()) return -1;
        m = PyDict_New();
        if (m == NULL) return -1;
        int rc = PyDict_SetItem(dix, r, m);
        Py_DECREF(m); /* dix holds it */
        if (rc < 0) return -1;
    }
    return PyDict_SetItem(m, PyTuple_GET_ITEM(rec, 1), key);
}

static PyObject *build_index(PyObject *self, PyObject *args) {
    PyObject *store;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &store)) return NULL;
    PyObject *dix = PyDict_New();
    if (dix == NULL) return NULL;
    Py_ssize_t pos = 0, n = 0;
    PyObject *key, *v;
    while (PyDict_Next(store, &pos, &key, &v)) {
        if (!PyTuple_CheckExact(v) || PyTuple_GET_SIZE(v) < 2) goto bad;
        if (PyUnicode_CheckExact(PyTuple_GET_ITEM(v, 0))) {
            if (index_add(dix, v, key) < 0) goto error;
            n++;
            continue;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
            PyObject *rec = PyTuple_GET_ITEM(v, i);
            if (!PyTuple_CheckExact(rec) || PyTuple_GET_SIZE(rec) < 2 ||
                !PyUnicode_CheckExact(PyTuple_GET_ITEM(rec, 0)))
                goto bad;
            if (index_add(dix, rec, key) < 0) goto error;
            n++;
        }
    }
    return Py_BuildValue("(Nn)", dix, n);
bad:
    PyErr_SetString(PyExc_ValueError, "build_index: not an AWLWWMap store");
error:
    Py_DECREF(dix);
    return NULL;
}

/* in _speedups_pack.c */
PyObject *dm_canonical(PyObject *self, PyObject *args);
PyObject *dm_decode_one(PyObject *self, PyObject *args);
/* in _speedups_absorb.c */
PyObject *dm_absorb_put(PyObject *self, PyObject *args);

static PyMethodDef methods[] = {
    {"canonical", dm_canonical, METH_VARARGS, "A small AWLWWMap's canonical encoding (or None)."},
    {"decode_one", dm_decode_one, METH_VARARGS, "A one-entry AWLWWMap message's parts (or None)."},
    {"absorb_put", dm_absorb_put, METH_VARARGS, "AWLWWMap.absorb of a put's delta (see the file)."},
    {"cols", cols, METH_VARARGS, "The columns of a big AWLWWMap store (or None)."},
    {"unfront", unfront, METH_VARARGS, "Front-coded key bytes -> list of str."},
    {"merge_scan", merge_scan, METH_VARARGS, "The scans of AWLWWMap._merge (see _awlwwmap.py)."},
    {"diff_scan", diff_scan, METH_VARARGS, "AWLWWMap.diff's entries the other side has not seen."},
    {"dropped_scan", dropped_scan, METH_VARARGS, "AWLWWMap's _dropped, the decided cases."},
    {"build_index", build_index, METH_VARARGS, "AWLWWMap's dot -> key index."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "crdts._speedups",
                                    "Compiled hot loops of the AWLWWMap codec (optional).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
