/* crdts._speedups, part 2: the canonical encoding of a small AWLWWMap, straight to bytes.
 *
 * canonical(store, vv, cloud, tag, version) -> bytes | None
 *     crdts.encode(x, canonical=True) of the AWLWWMap (store, CausalContext(vv, cloud)), byte
 *     for byte what the pure-Python encoder writes (two passes of encode_parts, then
 *     msgpack.packb of [tag, version, replicas, body]; see _awlwwmap_codec.py), for the states a
 *     node re-encodes after every change: 1 to 255 entries, each slot one record of one shape
 *     (own HLC timestamps, or int timestamps; a key's concurrent entries included), str
 *     replicas, msgpack-native keys and values. None for anything else (other timestamp kinds,
 *     256 keys or records or more,
 *     values it does not know, a range it would have to check twice): the Python code then
 *     encodes it, and raises what it raises.
 *
 * Why: the sync engine encodes every changed object canonically once per change (its Merkle
 * item hash, the Node's store and catch-up share the bytes), and in Python that cost ~40 us a
 * small cart: a third of the CPU a replicated write costs a 5-node cluster. This does it in one
 * pass (the Python code needs two: the first only finds the replica table).
 *
 * Only our own states come in (never peer bytes).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define P_MAX_REPS 64
#define P_MAX_ENTRIES 255 /* BLOB_MIN_ENTRIES - 1: bigger states take the column kinds 3/4 */
#define P_MAX_SHARED 64   /* MAX_SHARED_PREFIX */
#define P_RUN_MIN 16      /* RUN_MIN of crdts/_codec.py */
#define P_MAX_DEPTH 40    /* values nest at most MAX_VALUE_DEPTH (32) */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int buf_grow(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const void *src, size_t n) {
    if (buf_grow(b, n) < 0) return -1;
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static int put_be(Buf *b, unsigned char head, uint64_t v, int nbytes) {
    unsigned char t[9];
    t[0] = head;
    for (int i = 0; i < nbytes; i++) t[1 + i] = (unsigned char)(v >> (8 * (nbytes - 1 - i)));
    return put(b, t, (size_t)nbytes + 1);
}

/* msgpack-python's int rules: the smallest of fixint, uint8..64 (>= 0), int8..64 (< 0) */
static int put_uint(Buf *b, uint64_t v) {
    if (v < 128) {
        unsigned char c = (unsigned char)v;
        return put(b, &c, 1);
    }
    if (v < 256) return put_be(b, 0xcc, v, 1);
    if (v < 65536) return put_be(b, 0xcd, v, 2);
    if (v < 4294967296ULL) return put_be(b, 0xce, v, 4);
    return put_be(b, 0xcf, v, 8);
}

static int put_int(Buf *b, int64_t v) {
    if (v >= 0) return put_uint(b, (uint64_t)v);
    if (v >= -32) {
        unsigned char c = (unsigned char)(int8_t)v;
        return put(b, &c, 1);
    }
    if (v >= -128) return put_be(b, 0xd0, (uint64_t)v, 1);
    if (v >= -32768) return put_be(b, 0xd1, (uint64_t)v, 2);
    if (v >= -2147483648LL) return put_be(b, 0xd2, (uint64_t)v, 4);
    return put_be(b, 0xd3, (uint64_t)v, 8);
}

/* a value msgpack must take as int64 or uint64; 1: out of range (the caller falls back) */
static int put_i128(Buf *b, __int128 v, int *fallback) {
    if (v < -((__int128)1 << 63) || v > (__int128)UINT64_MAX) {
        *fallback = 1;
        return 0;
    }
    if (v < 0) return put_int(b, (int64_t)v);
    return put_uint(b, (uint64_t)v);
}

static int put_array(Buf *b, size_t n) {
    if (n < 16) {
        unsigned char c = (unsigned char)(0x90 | n);
        return put(b, &c, 1);
    }
    if (n < 65536) return put_be(b, 0xdc, n, 2);
    return put_be(b, 0xdd, n, 4);
}

static int put_str_utf8(Buf *b, const char *s, Py_ssize_t n) {
    int r;
    if (n < 32) {
        unsigned char c = (unsigned char)(0xa0 | n);
        r = put(b, &c, 1);
    } else if (n < 256) {
        r = put_be(b, 0xd9, (uint64_t)n, 1);
    } else if (n < 65536) {
        r = put_be(b, 0xda, (uint64_t)n, 2);
    } else {
        r = put_be(b, 0xdb, (uint64_t)n, 4);
    }
    if (r < 0) return -1;
    return put(b, s, (size_t)n);
}

/* a str (1: not UTF-8-encodable, e.g. a lone surrogate: the caller falls back) */
static int put_str(Buf *b, PyObject *s, int *fallback) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL) {
        PyErr_Clear();
        *fallback = 1;
        return 0;
    }
    return put_str_utf8(b, u, n);
}

/* a msgpack-native value as msgpack-python packs it; anything else sets *fallback */
static int put_value(Buf *b, PyObject *v, int depth, int *fallback) {
    if (v == Py_None) return put(b, "\xc0", 1);
    if (v == Py_True) return put(b, "\xc3", 1);
    if (v == Py_False) return put(b, "\xc2", 1);
    if (PyLong_CheckExact(v)) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow == 0) return put_int(b, x);
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(v);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                *fallback = 1;
                return 0;
            }
            return put_uint(b, u);
        }
        *fallback = 1;
        return 0;
    }
    if (PyUnicode_CheckExact(v)) return put_str(b, v, fallback);
    if (PyBytes_CheckExact(v)) {
        Py_ssize_t n = PyBytes_GET_SIZE(v);
        int r;
        if (n < 256)
            r = put_be(b, 0xc4, (uint64_t)n, 1);
        else if (n < 65536)
            r = put_be(b, 0xc5, (uint64_t)n, 2);
        else
            r = put_be(b, 0xc6, (uint64_t)n, 4);
        if (r < 0) return -1;
        return put(b, PyBytes_AS_STRING(v), (size_t)n);
    }
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        uint64_t u;
        memcpy(&u, &d, 8);
        return put_be(b, 0xcb, u, 8);
    }
    if (PyTuple_CheckExact(v) && depth < P_MAX_DEPTH) {
        Py_ssize_t n = PyTuple_GET_SIZE(v);
        if (put_array(b, (size_t)n) < 0) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (put_value(b, PyTuple_GET_ITEM(v, i), depth + 1, fallback) < 0) return -1;
            if (*fallback) return 0;
        }
        return 0;
    }
    *fallback = 1;
    return 0;
}

typedef struct {
    PyObject *key;
    PyObject *rec;
    int64_t ctr;
    int64_t ts;      /* the wall (or the int timestamp) */
    int32_t rep;     /* index into reps (then: rank in str order) */
    int32_t shared;  /* front coding: characters shared with the previous str key (0: none) */
} PEnt;

static int pent_cmp(const void *a, const void *b) {
    const PEnt *x = (const PEnt *)a, *y = (const PEnt *)b;
    if (x->rep != y->rep) return x->rep < y->rep ? -1 : 1;
    if (x->ctr != y->ctr) return x->ctr < y->ctr ? -1 : 1;
    return 0;
}

/* index of rep in reps (added when new); -1: too many (fallback) */
static int find_rep(PyObject *rep, PyObject **reps, int *n) {
    for (int i = 0; i < *n; i++)
        if (reps[i] == rep) return i;
    for (int i = 0; i < *n; i++)
        if (PyUnicode_Compare(reps[i], rep) == 0) return i;
    if (*n >= P_MAX_REPS) return -1;
    reps[*n] = rep;
    return (*n)++;
}

static int str_lt(const void *a, const void *b) {
    return PyUnicode_Compare(*(PyObject *const *)a, *(PyObject *const *)b);
}

/* code points shared by two str keys as _front_code counts them: 0 unless both have >= 2 and
 * share the first two, else min(len, len, 64) at most */
static int32_t shared_prefix(PyObject *a, PyObject *prev) {
    Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(prev);
    if (la < 2 || lb < 2) return 0;
    int ka = PyUnicode_KIND(a), kb = PyUnicode_KIND(prev);
    const void *da = PyUnicode_DATA(a), *db = PyUnicode_DATA(prev);
    Py_ssize_t m = la < lb ? la : lb;
    if (m > P_MAX_SHARED) m = P_MAX_SHARED;
    Py_ssize_t p = 0;
    while (p < m && PyUnicode_READ(ka, da, p) == PyUnicode_READ(kb, db, p)) p++;
    return p >= 2 ? (int32_t)p : 0;
}

/* the runs of Counters s minus the sorted counters live[0..nlive), appended to out as
 * (lo, hi) pairs; -1 error, 1 fallback (a bound not a u64) */
static int cloud_minus(PyObject *s, const int64_t *live, Py_ssize_t nlive, uint64_t **out,
                       Py_ssize_t *nout, Py_ssize_t *capout) {
    PyObject *bounds = PyObject_GetAttrString(s, "_b");
    if (bounds == NULL) {
        PyErr_Clear();
        return 1;
    }
    PyObject *fast = PySequence_Fast(bounds, "bounds");
    Py_DECREF(bounds);
    if (fast == NULL) {
        PyErr_Clear();
        return 1;
    }
    Py_ssize_t nb = PySequence_Fast_GET_SIZE(fast);
    int ret = 0;
    if (nb % 2) {
        ret = 1;
        goto done;
    }
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < nb; i += 2) {
        unsigned long long lo = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(fast, i));
        unsigned long long hi = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(fast, i + 1));
        if (PyErr_Occurred()) {
            PyErr_Clear();
            ret = 1;
            goto done;
        }
        while (j < nlive && (uint64_t)live[j] < lo) j++;
        uint64_t cur = lo;
        while (cur < hi) {
            uint64_t end = hi;
            if (j < nlive && (uint64_t)live[j] < hi) end = (uint64_t)live[j];
            if (end > cur) {
                if (*nout + 2 > *capout) {
                    Py_ssize_t cap = *capout ? 2 * *capout : 64;
                    uint64_t *p = PyMem_Realloc(*out, sizeof(uint64_t) * (size_t)cap);
                    if (p == NULL) {
                        PyErr_NoMemory();
                        ret = -1;
                        goto done;
                    }
                    *out = p;
                    *capout = cap;
                }
                (*out)[(*nout)++] = cur;
                (*out)[(*nout)++] = end;
            }
            if (end == hi) break;
            cur = end + 1; /* skip the live counter */
            j++;
        }
    }
done:
    Py_DECREF(fast);
    return ret;
}

typedef struct {
    PyObject *rep;
    Py_ssize_t lo, hi; /* its runs in the shared bounds array */
} CloudRep;

PyObject *dm_canonical(PyObject *self, PyObject *args) {
    PyObject *store, *vv, *cloud;
    long tag, version;
    if (!PyArg_ParseTuple(args, "O!O!O!ll", &PyDict_Type, &store, &PyDict_Type, &vv,
                          &PyDict_Type, &cloud, &tag, &version))
        return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(store);
    if (n < 1 || n > P_MAX_ENTRIES || tag < 0 || tag > 127 || version < 0 || version > 127)
        Py_RETURN_NONE;

    PEnt ents[P_MAX_ENTRIES];
    PyObject *reps[P_MAX_REPS];   /* every replica the encoding names */
    int nreps = 0;
    PyObject *result = NULL;
    int fallback = 0;
    Buf b = {NULL, 0, 0};
    uint64_t *cb = NULL; /* the cloud minus live dots: (lo, hi) pairs of every replica */
    Py_ssize_t ncb = 0, capcb = 0;
    CloudRep crs[P_MAX_REPS];
    int ncrs = 0;
    int64_t live[P_MAX_ENTRIES];

    /* 1. the records: tuples all of width 5 (own HLC) or all of width 4 (int ts); a slot of
     * concurrent entries (a tuple of records) gives one entry per record, its key repeated */
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    Py_ssize_t width = -1;
    while (PyDict_Next(store, &pos, &k, &v)) {
        if (!PyTuple_CheckExact(v) || PyTuple_GET_SIZE(v) < 1) goto none;
        Py_ssize_t nrec = 1;
        int multi = PyTuple_CheckExact(PyTuple_GET_ITEM(v, 0));
        if (multi) nrec = PyTuple_GET_SIZE(v);
        for (Py_ssize_t j = 0; j < nrec; j++) {
            PyObject *rec = multi ? PyTuple_GET_ITEM(v, j) : v;
            if (!PyTuple_CheckExact(rec) || i >= P_MAX_ENTRIES) goto none;
            Py_ssize_t w = PyTuple_GET_SIZE(rec);
            if (width < 0) {
                if (w != 4 && w != 5) goto none;
                width = w;
            } else if (w != width) {
                goto none;
            }
            PyObject *rep = PyTuple_GET_ITEM(rec, 0), *c = PyTuple_GET_ITEM(rec, 1);
            PyObject *t = PyTuple_GET_ITEM(rec, 3);
            if (!PyUnicode_CheckExact(rep) || !PyLong_CheckExact(c) || !PyLong_CheckExact(t))
                goto none;
            int overflow;
            long long cv = PyLong_AsLongLongAndOverflow(c, &overflow);
            if (overflow || cv < 1) goto none;
            long long tv = PyLong_AsLongLongAndOverflow(t, &overflow);
            if (overflow) goto none;
            if (w == 5) {
                PyObject *l = PyTuple_GET_ITEM(rec, 4);
                if (!PyLong_CheckExact(l)) goto none;
                long long lv = PyLong_AsLongLongAndOverflow(l, &overflow);
                if (overflow || lv < 0) goto none;
            }
            int id = find_rep(rep, reps, &nreps);
            if (id < 0) goto none;
            ents[i].key = k;
            ents[i].rec = rec;
            ents[i].ctr = cv;
            ents[i].ts = tv;
            ents[i].rep = id;
            i++;
        }
    }
    n = i; /* records, not keys */

    /* 2. dot order: by replica (str order), then counter; a dot twice is not our state */
    if (nreps > 1) {
        int32_t rank[P_MAX_REPS];
        for (int a = 0; a < nreps; a++) {
            int r = 0;
            for (int c = 0; c < nreps; c++) {
                int cmp = PyUnicode_Compare(reps[c], reps[a]);
                if (cmp == -1 && PyErr_Occurred()) goto error;
                if (cmp < 0) r++;
            }
            rank[a] = r;
        }
        PyObject *by_rank[P_MAX_REPS];
        for (int a = 0; a < nreps; a++) by_rank[rank[a]] = reps[a];
        for (int a = 0; a < nreps; a++) reps[a] = by_rank[a];
        for (i = 0; i < n; i++) ents[i].rep = rank[ents[i].rep];
    }
    qsort(ents, (size_t)n, sizeof(PEnt), pent_cmp);
    for (i = 1; i < n; i++)
        if (ents[i].rep == ents[i - 1].rep && ents[i].ctr == ents[i - 1].ctr) goto none;
    int nlive_reps = nreps;

    /* 3. the cloud minus the live dots, per replica in str order; a replica with something
     * left is named by the encoding */
    if (PyDict_GET_SIZE(cloud)) {
        PyObject *ckeys = PyDict_Keys(cloud);
        if (ckeys == NULL) goto error;
        if (PyList_GET_SIZE(ckeys) > P_MAX_REPS) {
            Py_DECREF(ckeys);
            goto none;
        }
        for (Py_ssize_t a = 0; a < PyList_GET_SIZE(ckeys); a++) {
            if (!PyUnicode_CheckExact(PyList_GET_ITEM(ckeys, a))) {
                Py_DECREF(ckeys);
                goto none;
            }
        }
        if (PyList_Sort(ckeys) < 0) {
            Py_DECREF(ckeys);
            goto error;
        }
        for (Py_ssize_t a = 0; a < PyList_GET_SIZE(ckeys); a++) {
            PyObject *r = PyList_GET_ITEM(ckeys, a);
            Py_ssize_t nlive = 0;
            for (i = 0; i < n; i++)
                if (PyUnicode_Compare(reps[ents[i].rep], r) == 0) live[nlive++] = ents[i].ctr;
            Py_ssize_t before = ncb;
            int rc = cloud_minus(PyDict_GetItem(cloud, r), live, nlive, &cb, &ncb, &capcb);
            if (rc != 0) {
                Py_DECREF(ckeys);
                if (rc < 0) goto error;
                goto none;
            }
            if (ncb > before) {
                crs[ncrs].rep = r; /* borrowed: the cloud dict holds it */
                crs[ncrs].lo = before;
                crs[ncrs].hi = ncb;
                ncrs++;
            }
        }
        Py_DECREF(ckeys);
    }

    /* 4. the replica table: the version vector's, the entries', the cloud's left-overs */
    PyObject *table[3 * P_MAX_REPS];
    int ntable = 0;
    for (int a = 0; a < nlive_reps; a++) table[ntable++] = reps[a];
    for (int a = 0; a < ncrs; a++) table[ntable++] = crs[a].rep;
    if (PyDict_GET_SIZE(vv) > P_MAX_REPS) goto none;
    PyObject *vkeys = PyDict_Keys(vv);
    if (vkeys == NULL) goto error;
    for (Py_ssize_t a = 0; a < PyList_GET_SIZE(vkeys); a++) {
        PyObject *r = PyList_GET_ITEM(vkeys, a);
        if (!PyUnicode_CheckExact(r)) {
            Py_DECREF(vkeys);
            goto none;
        }
        table[ntable++] = r;
    }
    qsort(table, (size_t)ntable, sizeof(PyObject *), str_lt);
    if (PyErr_Occurred()) {
        Py_DECREF(vkeys);
        goto error;
    }
    int nt = 0;
    for (int a = 0; a < ntable; a++)
        if (nt == 0 || PyUnicode_Compare(table[nt - 1], table[a]) != 0) table[nt++] = table[a];
    ntable = nt;
    /* table index of each entry replica (both lists are in str order) */
    int32_t rep_ix[P_MAX_REPS];
    for (int a = 0, t = 0; a < nlive_reps; a++) {
        while (PyUnicode_Compare(table[t], reps[a]) != 0) t++;
        rep_ix[a] = t;
    }

    /* 5. the message: [tag, version, replicas, body] */
    if (put(&b, "\x94", 1) < 0 || put_uint(&b, (uint64_t)tag) < 0 ||
        put_uint(&b, (uint64_t)version) < 0 || put_array(&b, (size_t)ntable) < 0) {
        Py_DECREF(vkeys);
        goto error;
    }
    for (int a = 0; a < ntable; a++) {
        if (put_str(&b, table[a], &fallback) < 0) {
            Py_DECREF(vkeys);
            goto error;
        }
        if (fallback) {
            Py_DECREF(vkeys);
            goto none;
        }
    }
    /* extra runs (long ones) exist? then the body has 9 items */
    int has_runs = 0;
    for (Py_ssize_t a = 0; a < ncb; a += 2)
        if (cb[a + 1] - cb[a] >= P_RUN_MIN) has_runs = 1;
    if (put_array(&b, has_runs ? 9 : 8) < 0) {
        Py_DECREF(vkeys);
        goto error;
    }
    /* vv, sorted by replica */
    if (PyList_Sort(vkeys) < 0 || put_array(&b, 2 * (size_t)PyList_GET_SIZE(vkeys)) < 0) {
        Py_DECREF(vkeys);
        goto error;
    }
    for (Py_ssize_t a = 0, t = 0; a < PyList_GET_SIZE(vkeys); a++) {
        PyObject *r = PyList_GET_ITEM(vkeys, a);
        while (PyUnicode_Compare(table[t], r) != 0) t++;
        PyObject *c = PyDict_GetItem(vv, r);
        if (c == NULL || !PyLong_CheckExact(c)) {
            Py_DECREF(vkeys);
            goto none;
        }
        int overflow;
        long long cv = PyLong_AsLongLongAndOverflow(c, &overflow);
        if (overflow || cv < 0) {
            Py_DECREF(vkeys);
            goto none;
        }
        if (put_uint(&b, (uint64_t)t) < 0 || put_uint(&b, (uint64_t)cv) < 0) {
            Py_DECREF(vkeys);
            goto error;
        }
    }
    Py_DECREF(vkeys);
    /* runs: [replica, length] per replica of the entries */
    if (put_array(&b, 2 * (size_t)nlive_reps) < 0) goto error;
    for (Py_ssize_t s = 0; s < n;) {
        Py_ssize_t e = s;
        while (e < n && ents[e].rep == ents[s].rep) e++;
        if (put_uint(&b, (uint64_t)rep_ix[ents[s].rep]) < 0 || put_uint(&b, (uint64_t)(e - s)) < 0)
            goto error;
        s = e;
    }
    /* counters: each run's first, then the gaps */
    if (put_array(&b, (size_t)n) < 0) goto error;
    for (i = 0; i < n; i++) {
        int64_t c = (i == 0 || ents[i].rep != ents[i - 1].rep) ? ents[i].ctr
                                                              : ents[i].ctr - ents[i - 1].ctr;
        if (put_uint(&b, (uint64_t)c) < 0) goto error;
    }
    /* keys, front-coded (a str sharing >= 2 characters with the previous str: p, suffix) */
    size_t nitems = 0;
    PyObject *prev = NULL;
    for (i = 0; i < n; i++) {
        PyObject *key = ents[i].key;
        ents[i].shared = 0;
        if (PyUnicode_CheckExact(key)) {
            if (prev != NULL) ents[i].shared = shared_prefix(key, prev);
            prev = key;
            nitems += ents[i].shared ? 2 : 1;
        } else {
            nitems += 1;
        }
    }
    if (put_array(&b, nitems) < 0) goto error;
    for (i = 0; i < n; i++) {
        PyObject *key = ents[i].key;
        int32_t p = ents[i].shared;
        if (!PyUnicode_CheckExact(key)) {
            if (put_array(&b, 1) < 0 || put_value(&b, key, 1, &fallback) < 0) goto error;
        } else if (p == 0) {
            if (put_str(&b, key, &fallback) < 0) goto error;
        } else {
            if (put_uint(&b, (uint64_t)p) < 0) goto error;
            if (PyUnicode_IS_COMPACT_ASCII(key)) {
                const char *s = (const char *)PyUnicode_DATA(key);
                if (put_str_utf8(&b, s + p, PyUnicode_GET_LENGTH(key) - p) < 0) goto error;
            } else {
                PyObject *suffix = PyUnicode_Substring(key, p, PyUnicode_GET_LENGTH(key));
                if (suffix == NULL) goto error;
                int r = put_str(&b, suffix, &fallback);
                Py_DECREF(suffix);
                if (r < 0) goto error;
            }
        }
        if (fallback) goto none;
    }
    /* values */
    if (put_array(&b, (size_t)n) < 0) goto error;
    for (i = 0; i < n; i++) {
        if (put_value(&b, PyTuple_GET_ITEM(ents[i].rec, 2), 0, &fallback) < 0) goto error;
        if (fallback) goto none;
    }
    /* timestamps: kind 1 (own HLC: wall differences and logicals, interleaved) or kind 0 */
    if (put_uint(&b, width == 5 ? 1 : 0) < 0) goto error;
    if (put_array(&b, (size_t)(width == 5 ? 2 * n : n)) < 0) goto error;
    for (i = 0; i < n; i++) {
        __int128 d = i == 0 ? (__int128)ents[0].ts : (__int128)ents[i].ts - ents[i - 1].ts;
        if (put_i128(&b, d, &fallback) < 0) goto error;
        if (fallback) goto none;
        if (width == 5) {
            long long lv = PyLong_AsLongLong(PyTuple_GET_ITEM(ents[i].rec, 4));
            if (put_uint(&b, (uint64_t)lv) < 0) goto error;
        }
    }
    /* extra: the short runs of the cloud left-overs dot by dot, [replica, count, gaps...] */
    size_t nextra = 0;
    for (int a = 0; a < ncrs; a++) {
        size_t dots = 0;
        for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2)
            if (cb[j + 1] - cb[j] < P_RUN_MIN) dots += (size_t)(cb[j + 1] - cb[j]);
        if (dots) nextra += 2 + dots;
    }
    if (put_array(&b, nextra) < 0) goto error;
    for (int a = 0, t = 0; a < ncrs; a++) {
        size_t dots = 0;
        for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2)
            if (cb[j + 1] - cb[j] < P_RUN_MIN) dots += (size_t)(cb[j + 1] - cb[j]);
        while (PyUnicode_Compare(table[t], crs[a].rep) != 0) t++;
        if (!dots) continue;
        if (put_uint(&b, (uint64_t)t) < 0 || put_uint(&b, (uint64_t)dots) < 0) goto error;
        uint64_t last = 0;
        for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2) {
            if (cb[j + 1] - cb[j] >= P_RUN_MIN) continue;
            for (uint64_t c = cb[j]; c < cb[j + 1]; c++) {
                if (put_uint(&b, c - last) < 0) goto error;
                last = c;
            }
        }
    }
    /* extra runs: [replica, count, gap, length, ...] of the long runs */
    if (has_runs) {
        size_t nr = 0;
        for (int a = 0; a < ncrs; a++) {
            size_t runs = 0;
            for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2)
                if (cb[j + 1] - cb[j] >= P_RUN_MIN) runs++;
            if (runs) nr += 2 + 2 * runs;
        }
        if (put_array(&b, nr) < 0) goto error;
        for (int a = 0, t = 0; a < ncrs; a++) {
            size_t runs = 0;
            for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2)
                if (cb[j + 1] - cb[j] >= P_RUN_MIN) runs++;
            while (PyUnicode_Compare(table[t], crs[a].rep) != 0) t++;
            if (!runs) continue;
            if (put_uint(&b, (uint64_t)t) < 0 || put_uint(&b, (uint64_t)runs) < 0) goto error;
            uint64_t last = 0;
            for (Py_ssize_t j = crs[a].lo; j < crs[a].hi; j += 2) {
                if (cb[j + 1] - cb[j] < P_RUN_MIN) continue;
                if (put_uint(&b, cb[j] - last) < 0 || put_uint(&b, cb[j + 1] - cb[j]) < 0)
                    goto error;
                last = cb[j + 1];
            }
        }
    }
    result = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.len);
    goto done;

none:
    if (PyErr_Occurred()) goto error;
    Py_INCREF(Py_None);
    result = Py_None;
    goto done;
error:
    result = NULL;
done:
    PyMem_Free(b.p);
    PyMem_Free(cb);
    return result;
}

/* ------------------------------------------------------------------------------------------
 * decode_one(data, tag, max_version) -> tuple | None
 *     A whole message holding a one-entry AWLWWMap body (format 2 or 3: a put's delta, the
 *     message a node receives most), read straight from the bytes: (replicas, key, record, vv,
 *     replica, counter, extra, runs) with vv a dict, extra the body's extra dot list and runs its
 *     optional ninth item (None when absent), both as tuples of ints for the Python code to
 *     validate and build into the context. It accepts exactly what msgpack.unpackb and
 *     _decode_one in _awlwwmap_codec.py accept and decode alike for this shape (a str key; a
 *     value that is an int, str, bytes, bool, None or a float other than NaN; own-HLC or int
 *     timestamps); anything else, valid or not, gives None and the Python code decides (and
 *     raises its DecodeError). This reads peer bytes: every length is checked against the end.
 * ------------------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
} Cur;

static int avail(Cur *c, size_t n) { return (size_t)(c->end - c->p) >= n; }

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* an array header: its length, or -1 */
static Py_ssize_t rd_array(Cur *c) {
    if (!avail(c, 1)) return -1;
    unsigned char h = *c->p;
    if ((h & 0xf0) == 0x90) {
        c->p++;
        return h & 0x0f;
    }
    int n = h == 0xdc ? 2 : h == 0xdd ? 4 : 0;
    if (!n || !avail(c, 1 + (size_t)n)) return -1;
    uint64_t len = be(c->p + 1, n);
    c->p += 1 + n;
    if (len > (uint64_t)(c->end - c->p)) return -1; /* each item takes a byte at least */
    return (Py_ssize_t)len;
}

/* an int (any msgpack int family): 0 and *v, or -1 (not an int) */
static int rd_int(Cur *c, __int128 *v) {
    if (!avail(c, 1)) return -1;
    unsigned char h = *c->p;
    if (h <= 0x7f) {
        *v = h;
        c->p++;
        return 0;
    }
    if (h >= 0xe0) {
        *v = (int8_t)h;
        c->p++;
        return 0;
    }
    int n, sign;
    switch (h) {
        case 0xcc: n = 1, sign = 0; break;
        case 0xcd: n = 2, sign = 0; break;
        case 0xce: n = 4, sign = 0; break;
        case 0xcf: n = 8, sign = 0; break;
        case 0xd0: n = 1, sign = 1; break;
        case 0xd1: n = 2, sign = 1; break;
        case 0xd2: n = 4, sign = 1; break;
        case 0xd3: n = 8, sign = 1; break;
        default: return -1;
    }
    if (!avail(c, 1 + (size_t)n)) return -1;
    uint64_t u = be(c->p + 1, n);
    c->p += 1 + n;
    if (!sign) {
        *v = u;
    } else {
        int64_t s;
        if (n == 1) s = (int8_t)u;
        else if (n == 2) s = (int16_t)u;
        else if (n == 4) s = (int32_t)u;
        else s = (int64_t)u;
        *v = s;
    }
    return 0;
}

static PyObject *int_obj(__int128 v) {
    if (v >= INT64_MIN && v <= INT64_MAX) return PyLong_FromLongLong((long long)v);
    return PyLong_FromUnsignedLongLong((unsigned long long)v);
}

/* a str: its UTF-8 bytes (0), or -1 */
static int rd_str(Cur *c, const char **s, Py_ssize_t *len) {
    if (!avail(c, 1)) return -1;
    unsigned char h = *c->p;
    uint64_t n;
    int hn;
    if ((h & 0xe0) == 0xa0) {
        n = h & 0x1f;
        hn = 0;
    } else if (h == 0xd9 || h == 0xda || h == 0xdb) {
        hn = h == 0xd9 ? 1 : h == 0xda ? 2 : 4;
        if (!avail(c, 1 + (size_t)hn)) return -1;
        n = be(c->p + 1, hn);
    } else {
        return -1;
    }
    c->p += 1 + hn;
    if (n > (uint64_t)(c->end - c->p)) return -1;
    *s = (const char *)c->p;
    *len = (Py_ssize_t)n;
    c->p += n;
    return 0;
}

/* a str object (strict UTF-8, as msgpack's raw=False); NULL without an exception: not one */
static PyObject *rd_str_obj(Cur *c) {
    const char *s;
    Py_ssize_t n;
    if (rd_str(c, &s, &n) < 0) return NULL;
    PyObject *o = PyUnicode_DecodeUTF8(s, n, NULL);
    if (o == NULL) PyErr_Clear();
    return o;
}

/* a value the fast path takes (int, str, bytes, bool, None, a float other than NaN); NULL
 * without an exception: anything else */
static PyObject *rd_simple(Cur *c) {
    if (!avail(c, 1)) return NULL;
    unsigned char h = *c->p;
    if (h == 0xc0) {
        c->p++;
        Py_RETURN_NONE;
    }
    if (h == 0xc2 || h == 0xc3) {
        c->p++;
        return PyBool_FromLong(h == 0xc3);
    }
    if (h == 0xc4 || h == 0xc5 || h == 0xc6) {
        int hn = h == 0xc4 ? 1 : h == 0xc5 ? 2 : 4;
        if (!avail(c, 1 + (size_t)hn)) return NULL;
        uint64_t n = be(c->p + 1, hn);
        c->p += 1 + hn;
        if (n > (uint64_t)(c->end - c->p)) return NULL;
        PyObject *o = PyBytes_FromStringAndSize((const char *)c->p, (Py_ssize_t)n);
        c->p += n;
        return o;
    }
    if (h == 0xca || h == 0xcb) {
        int n = h == 0xca ? 4 : 8;
        if (!avail(c, 1 + (size_t)n)) return NULL;
        uint64_t u = be(c->p + 1, n);
        c->p += 1 + n;
        double d;
        if (n == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            d = f;
        } else {
            memcpy(&d, &u, 8);
        }
        if (d != d) return NULL; /* NaN: the Python code rejects it */
        return PyFloat_FromDouble(d);
    }
    __int128 v;
    if (rd_int(c, &v) == 0) return int_obj(v);
    return rd_str_obj(c);
}

/* an array of ints as a tuple; NULL without an exception: not one */
static PyObject *rd_int_tuple(Cur *c) {
    Py_ssize_t n = rd_array(c);
    if (n < 0) return NULL;
    PyObject *t = PyTuple_New(n);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        __int128 v;
        PyObject *o;
        if (rd_int(c, &v) < 0 || (o = int_obj(v)) == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, o);
    }
    return t;
}

#define MAX_COUNTER ((__int128)INT64_MAX)
#define D_MAX_REPS 64

PyObject *dm_decode_one(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer buf;
    long tag, max_version;
    if (!PyArg_ParseTuple(args, "y*ll", &buf, &tag, &max_version)) return NULL;
    Cur c = {(const unsigned char *)buf.buf, (const unsigned char *)buf.buf + buf.len};
    PyObject *reps[D_MAX_REPS];
    Py_ssize_t nreps = 0;
    PyObject *table = NULL, *vv = NULL, *key = NULL, *value = NULL, *rec = NULL, *extra = NULL;
    PyObject *runs = NULL, *result = NULL;
    __int128 x, ri, ctr, t0 = 0, t1 = 0;

    if (rd_array(&c) != 4 || rd_int(&c, &x) < 0 || x != tag || rd_int(&c, &x) < 0 || x < 2 ||
        x > max_version)
        goto none;
    nreps = rd_array(&c);
    if (nreps < 0 || nreps > D_MAX_REPS) goto none;
    table = PyTuple_New(nreps);
    if (table == NULL) goto error;
    for (Py_ssize_t i = 0; i < nreps; i++) {
        PyObject *r = rd_str_obj(&c);
        if (r == NULL) goto none;
        for (Py_ssize_t j = 0; j < i; j++) {
            if (PyUnicode_Compare(reps[j], r) == 0) {
                Py_DECREF(r);
                goto none;
            }
        }
        PyTuple_SET_ITEM(table, i, r);
        reps[i] = r;
    }
    Py_ssize_t nparts = rd_array(&c);
    if (nparts != 8 && nparts != 9) goto none;
    /* vv: [replica, n, ...], each replica once, n a counter */
    Py_ssize_t nvv = rd_array(&c);
    if (nvv < 0 || nvv % 2) goto none;
    vv = PyDict_New();
    if (vv == NULL) goto error;
    for (Py_ssize_t i = 0; i < nvv; i += 2) {
        __int128 n;
        if (rd_int(&c, &ri) < 0 || ri < 0 || ri >= nreps || rd_int(&c, &n) < 0 || n < 1 ||
            n > MAX_COUNTER)
            goto none;
        PyObject *r = reps[(Py_ssize_t)ri];
        if (PyDict_Contains(vv, r)) goto none;
        PyObject *no = int_obj(n);
        if (no == NULL || PyDict_SetItem(vv, r, no) < 0) {
            Py_XDECREF(no);
            goto error;
        }
        Py_DECREF(no);
    }
    /* runs [replica, 1], counters [c], keys [str], values [simple] */
    if (rd_array(&c) != 2 || rd_int(&c, &ri) < 0 || ri < 0 || ri >= nreps || rd_int(&c, &x) < 0 ||
        x != 1)
        goto none;
    if (rd_array(&c) != 1 || rd_int(&c, &ctr) < 0 || ctr < 1 || ctr > MAX_COUNTER) goto none;
    if (rd_array(&c) != 1 || (key = rd_str_obj(&c)) == NULL) goto none;
    if (rd_array(&c) != 1 || (value = rd_simple(&c)) == NULL) goto none;
    /* timestamps: kind 1 [wall, logical] or kind 0 [ts] */
    __int128 kind;
    if (rd_int(&c, &kind) < 0 || (kind != 0 && kind != 1)) goto none;
    if (rd_array(&c) != (kind == 1 ? 2 : 1) || rd_int(&c, &t0) < 0) goto none;
    if (kind == 1 && (rd_int(&c, &t1) < 0 || t1 < 0)) goto none;
    /* extra (and the optional runs): ints, validated by the Python code */
    if ((extra = rd_int_tuple(&c)) == NULL) goto none;
    if (nparts == 9 && (runs = rd_int_tuple(&c)) == NULL) goto none;
    if (c.p != c.end) goto none; /* trailing bytes: msgpack's ExtraData */

    PyObject *rep = reps[(Py_ssize_t)ri];
    PyObject *co = int_obj(ctr), *w = int_obj(t0), *l = kind == 1 ? int_obj(t1) : NULL;
    if (co == NULL || w == NULL || (kind == 1 && l == NULL)) {
        Py_XDECREF(co);
        Py_XDECREF(w);
        Py_XDECREF(l);
        goto error;
    }
    rec = kind == 1 ? PyTuple_Pack(5, rep, co, value, w, l) : PyTuple_Pack(4, rep, co, value, w);
    Py_XDECREF(w);
    Py_XDECREF(l);
    if (rec == NULL) {
        Py_DECREF(co);
        goto error;
    }
    result = PyTuple_Pack(8, table, key, rec, vv, rep, co, extra, runs ? runs : Py_None);
    Py_DECREF(co);
    goto done;
none:
    if (PyErr_Occurred()) goto error;
    Py_INCREF(Py_None);
    result = Py_None;
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(table);
    Py_XDECREF(vv);
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_XDECREF(rec);
    Py_XDECREF(extra);
    Py_XDECREF(runs);
    PyBuffer_Release(&buf);
    return result;
}
