/* safetensors.c — a checked safetensors reader (the file is mmapped read-only once) and an
 * atomic F32 writer.
 *
 * Every number in the header is validated before use: dims are integers in [0, 2^53],
 * shape products and byte sizes are overflow-checked, data_offsets must lie inside the data
 * section, match numel * dtype size exactly, and not overlap another tensor. Tensor data
 * pointers may be unaligned (the header length is arbitrary): decode through xattn_st_read_f32. */
#define _POSIX_C_SOURCE 200809L
#include "xattn_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/utf8.h"

#define ST_MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's limit: 100 MB */
#define ST_MAX_INT 9007199254740992.0        /* 2^53: larger JSON numbers are not exact */

struct xattn_st_file {
    char *path;
    uint8_t *map;         /* the whole file, map_size bytes, PROT_READ */
    size_t map_size;
    const uint8_t *data;  /* the data section: map + 8 + header length */
    size_t data_size;
    xattn_st_tensor *tensors;   /* [n_tensors], in file order */
    size_t n_tensors;
    char **meta_keys;     /* [n_meta] */
    char **meta_values;   /* [n_meta] */
    size_t n_meta;
};

/* ------------------------------------------------------------------------------------------ */
/* dtypes                                                                                      */

static const struct {
    const char *name;
    xattn_st_dtype dtype;
    size_t size;
} st_dtypes[] = {
    {"F32", XATTN_ST_F32, 4}, {"F16", XATTN_ST_F16, 2}, {"BF16", XATTN_ST_BF16, 2}, {"I64", XATTN_ST_I64, 8},
    {"I32", XATTN_ST_I32, 4}, {"U8", XATTN_ST_U8, 1},   {"BOOL", XATTN_ST_BOOL, 1}, {"F64", XATTN_ST_F64, 8},
};
#define ST_N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

const char *xattn_st_dtype_name(xattn_st_dtype d) {
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (st_dtypes[i].dtype == d) return st_dtypes[i].name;
    return "?";
}

size_t xattn_st_dtype_size(xattn_st_dtype d) {
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (st_dtypes[i].dtype == d) return st_dtypes[i].size;
    return 0;
}

static int st_dtype_parse(const char *s, xattn_st_dtype *d) {
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(st_dtypes[i].name, s) == 0) {
            *d = st_dtypes[i].dtype;
            return 1;
        }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* scalar decoding (little-endian bytes, any alignment)                                        */

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t load_u64(const uint8_t *p) {
    return (uint64_t)load_u32(p) | ((uint64_t)load_u32(p + 4) << 32);
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 -> binary32, exact: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float xattn_st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13)); /* inf, nan */
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign); /* +-0 */
    /* subnormal: mant * 2^-24; shift until the implicit bit (0x400) is set */
    uint32_t e = 113; /* exponent of 2^-14 in binary32 is 127 - 14 = 113 */
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

/* bfloat16 is the top half of a binary32. */
float xattn_st_bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

double xattn_st_element_f64(const xattn_st_tensor *t, size_t i) {
    const uint8_t *p = t->data + i * xattn_st_dtype_size(t->dtype);
    switch (t->dtype) {
    case XATTN_ST_F32: return f32_from_bits(load_u32(p));
    case XATTN_ST_F16: return xattn_st_f16_to_f32(load_u16(p));
    case XATTN_ST_BF16: return xattn_st_bf16_to_f32(load_u16(p));
    case XATTN_ST_I64: return (double)(int64_t)load_u64(p);
    case XATTN_ST_I32: return (double)(int32_t)load_u32(p);
    case XATTN_ST_U8: return p[0];
    case XATTN_ST_BOOL: return p[0];
    case XATTN_ST_F64: {
        uint64_t u = load_u64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* accessors                                                                                   */

const char *xattn_st_path(const xattn_st_file *f) { return f->path; }
size_t xattn_st_count(const xattn_st_file *f) { return f->n_tensors; }
const xattn_st_tensor *xattn_st_at(const xattn_st_file *f, size_t i) { return i < f->n_tensors ? &f->tensors[i] : NULL; }

const xattn_st_tensor *xattn_st_find(const xattn_st_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *xattn_st_metadata(const xattn_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

size_t xattn_st_metadata_count(const xattn_st_file *f) { return f->n_meta; }

void xattn_st_metadata_at(const xattn_st_file *f, size_t i, const char **key, const char **value) {
    *key = i < f->n_meta ? f->meta_keys[i] : NULL;
    *value = i < f->n_meta ? f->meta_values[i] : NULL;
}

void xattn_st_close(xattn_st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    if (f->map) munmap(f->map, f->map_size);
    free(f->path);
    free(f);
}

/* ------------------------------------------------------------------------------------------ */
/* header parsing                                                                              */

/* A tensor name made safe for a one-line message: control bytes become '?', at most 120 bytes. */
static const char *printable(const char *s, char buf[128]) {
    size_t n = 0;
    for (; s[n] && n < 120; n++) buf[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    if (s[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* A JSON number that is an integer in [0, 2^53]; *out gets it. */
static int json_uint(const cJSON *j, size_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= ST_MAX_INT) || v != floor(v)) return 0;
    if ((uint64_t)v > SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

/* One tensor entry {"dtype": .., "shape": [..], "data_offsets": [b, e]}. On success t->data
 * points into the data section; *begin / *end are the byte range there. */
static xattn_status parse_tensor(xattn_st_file *f, const cJSON *j, xattn_st_tensor *t, size_t *begin,
                                 size_t *end, xattn_error *err) {
    char nb[128];
    const char *name = printable(t->name, nb);
    const char *path = f->path;
    if (!cJSON_IsObject(j))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: tensor entry is not a JSON object (tensor '%s')",
                          path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!jd || !js || !jo)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: tensor entry lacks '%s' (tensor '%s')", path,
                          !jd ? "dtype" : !js ? "shape" : "data_offsets", name);
    if (!cJSON_IsString(jd))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: 'dtype' is not a string (tensor '%s')", path, name);
    if (!st_dtype_parse(jd->valuestring, &t->dtype)) {
        char db[128];
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED, "%s: unsupported dtype '%s' (tensor '%s')", path,
                          printable(jd->valuestring, db), name);
    }
    if (!cJSON_IsArray(js))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: 'shape' is not an array (tensor '%s')", path, name);
    int ndim = cJSON_GetArraySize(js);
    if (ndim > XATTN_ST_MAX_DIMS)
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: %d dimensions, at most %d are supported (tensor '%s')", path, ndim,
                          XATTN_ST_MAX_DIMS, name);
    t->ndim = ndim;
    t->numel = 1;
    int d = 0;
    const cJSON *jdim;
    cJSON_ArrayForEach(jdim, js) {
        if (!json_uint(jdim, &t->shape[d])) {
            if (cJSON_IsNumber(jdim))
                return xattn_fail(err, XATTN_ERR_FORMAT,
                                  "%s: shape[%d] = %g is not an integer in [0, 2^53] (tensor '%s')",
                                  path, d, jdim->valuedouble, name);
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: shape[%d] is not a number (tensor '%s')",
                              path, d, name);
        }
        if (__builtin_mul_overflow(t->numel, t->shape[d], &t->numel))
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: shape product overflows (tensor '%s')", path,
                              name);
        d++;
    }
    if (__builtin_mul_overflow(t->numel, xattn_st_dtype_size(t->dtype), &t->nbytes))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: tensor byte size overflows (tensor '%s')", path,
                          name);
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, begin) ||
        !json_uint(jo->child->next, end))
        return xattn_fail(err, XATTN_ERR_FORMAT,
                          "%s: 'data_offsets' is not two non-negative integers (tensor '%s')", path,
                          name);
    if (*begin > *end)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: data_offsets [%zu, %zu] are reversed (tensor '%s')",
                          path, *begin, *end, name);
    if (*end > f->data_size)
        return xattn_fail(err, XATTN_ERR_FORMAT,
                          "%s: data_offsets end %zu is past the data section of %zu bytes (file "
                          "truncated?) (tensor '%s')",
                          path, *end, f->data_size, name);
    if (*end - *begin != t->nbytes)
        return xattn_fail(err, XATTN_ERR_FORMAT,
                          "%s: data_offsets span %zu bytes but shape and dtype %s need %zu (tensor '%s')",
                          path, *end - *begin, xattn_st_dtype_name(t->dtype), t->nbytes, name);
    t->data = f->data + *begin;
    return XATTN_OK;
}

typedef struct range {
    size_t begin, end, index;
} range;

static int range_cmp(const void *a, const void *b) {
    const range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A string that occurs twice in names[n], or NULL; *nomem set if the scratch copy failed. */
static const char *find_duplicate(char *const *names, size_t n, int *nomem) {
    const char *dup = NULL;
    char **sorted = malloc((n ? n : 1) * sizeof *sorted); /* [n] borrowed pointers */
    *nomem = !sorted;
    if (!sorted) return NULL;
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, str_ptr_cmp);
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0) dup = sorted[i];
    free(sorted);
    return dup;
}

/* No two tensors share a name or a byte; ranges[n] are compacted and sorted here. */
static xattn_status check_disjoint(xattn_st_file *f, range *ranges, xattn_error *err) {
    size_t n = f->n_tensors, m = 0;
    char **names = malloc((n ? n : 1) * sizeof *names); /* [n] borrowed */
    if (!names) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
    for (size_t i = 0; i < n; i++) names[i] = f->tensors[i].name;
    int nomem;
    const char *dup = find_duplicate(names, n, &nomem);
    free(names);
    char nb[128];
    if (nomem) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
    if (dup)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: duplicate tensor name (tensor '%s')", f->path,
                          printable(dup, nb));
    for (size_t i = 0; i < n; i++)
        if (ranges[i].end > ranges[i].begin) ranges[m++] = ranges[i]; /* empty ranges overlap nothing */
    qsort(ranges, m, sizeof *ranges, range_cmp);
    for (size_t i = 1; i < m; i++)
        if (ranges[i].begin < ranges[i - 1].end) {
            char a[128], b[128];
            return xattn_fail(err, XATTN_ERR_FORMAT,
                              "%s: data overlaps that of tensor '%s' (tensor '%s')", f->path,
                              printable(f->tensors[ranges[i - 1].index].name, a),
                              printable(f->tensors[ranges[i].index].name, b));
        }
    return XATTN_OK;
}

static xattn_status parse_metadata(xattn_st_file *f, const cJSON *j, xattn_error *err) {
    if (f->meta_keys)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: duplicate '__metadata__' entry", f->path);
    if (!cJSON_IsObject(j))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: '__metadata__' is not a JSON object", f->path);
    size_t n = (size_t)cJSON_GetArraySize(j);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_values = calloc(n ? n : 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        char kb[128];
        if (!cJSON_IsString(e))
            return xattn_fail(err, XATTN_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string",
                              f->path, printable(e->string, kb));
        f->meta_keys[f->n_meta] = strdup(e->string);
        f->meta_values[f->n_meta] = strdup(e->valuestring);
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
    }
    int nomem;
    const char *dup = find_duplicate(f->meta_keys, f->n_meta, &nomem);
    char kb[128];
    if (nomem) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
    if (dup)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: duplicate __metadata__ key '%s'", f->path,
                          printable(dup, kb));
    return XATTN_OK;
}

static xattn_status parse_header(xattn_st_file *f, const char *json, size_t len, xattn_error *err) {
    if (memchr(json, '\0', len))
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: header contains a NUL byte", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root)
        return xattn_fail(err, XATTN_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu)",
                          f->path, end && end >= json ? (size_t)(end - json) : (size_t)0);
    xattn_status s = XATTN_OK;
    range *ranges = NULL;
    if (!cJSON_IsObject(root)) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: header is not a JSON object", f->path);
        goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors); /* [<= n] */
    ranges = calloc(n ? n : 1, sizeof *ranges);         /* [n_tensors] data byte ranges */
    if (!f->tensors || !ranges) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            s = parse_metadata(f, e, err);
        } else {
            xattn_st_tensor *t = &f->tensors[f->n_tensors];
            t->name = strdup(e->string);
            if (!t->name) {
                s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", f->path);
                goto done;
            }
            ranges[f->n_tensors].index = f->n_tensors;
            f->n_tensors++;
            s = parse_tensor(f, e, t, &ranges[f->n_tensors - 1].begin, &ranges[f->n_tensors - 1].end, err);
        }
        if (s != XATTN_OK) goto done;
    }
    s = check_disjoint(f, ranges, err);
done:
    free(ranges);
    cJSON_Delete(root);
    return s;
}

xattn_status xattn_st_open(const char *path, xattn_st_file **out, xattn_error *err) {
    *out = NULL;
    xattn_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    xattn_status s = XATTN_OK;
    char *json = NULL;
    int fd = open(path, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        s = xattn_fail(err, XATTN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        s = xattn_fail(err, XATTN_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    if (sb.st_size < 8) {
        s = xattn_fail(err, XATTN_ERR_FORMAT, "%s: file of %lld bytes is too short for safetensors",
                       path, (long long)sb.st_size);
        goto done;
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: file too large to map", path);
        goto done;
    }
    f->map_size = (size_t)sb.st_size;
    void *m = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        s = xattn_fail(err, XATTN_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        goto done;
    }
    f->map = m;
    uint64_t header_len = load_u64(f->map);
    if (header_len > ST_MAX_HEADER || header_len > f->map_size - 8) {
        s = xattn_fail(err, XATTN_ERR_FORMAT,
                       "%s: header length %llu is impossible for a file of %zu bytes (not safetensors, "
                       "or truncated)",
                       path, (unsigned long long)header_len, f->map_size);
        goto done;
    }
    f->data = f->map + 8 + header_len;
    f->data_size = f->map_size - 8 - (size_t)header_len;
    json = malloc((size_t)header_len + 1); /* the header is not NUL-terminated in the file */
    if (!json) {
        s = xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(json, f->map + 8, (size_t)header_len);
    json[header_len] = '\0';
    s = parse_header(f, json, (size_t)header_len, err);
done:
    free(json);
    if (fd >= 0) close(fd);
    if (s != XATTN_OK) {
        xattn_st_close(f);
        return s;
    }
    *out = f;
    return XATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* conversion                                                                                  */

xattn_status xattn_st_read_f32(const xattn_st_file *f, const xattn_st_tensor *t, float *out, xattn_error *err) {
    const uint8_t *p = t->data; /* [numel * dtype size], any alignment */
    size_t n = t->numel;
    switch (t->dtype) {
    case XATTN_ST_F32:
        for (size_t i = 0; i < n; i++) out[i] = f32_from_bits(load_u32(p + 4 * i));
        return XATTN_OK;
    case XATTN_ST_F16:
        for (size_t i = 0; i < n; i++) out[i] = xattn_st_f16_to_f32(load_u16(p + 2 * i));
        return XATTN_OK;
    case XATTN_ST_BF16:
        for (size_t i = 0; i < n; i++) out[i] = xattn_st_bf16_to_f32(load_u16(p + 2 * i));
        return XATTN_OK;
    default: {
        char nb[128];
        return xattn_fail(err, XATTN_ERR_UNSUPPORTED,
                          "%s: dtype %s cannot be read as floats, expected F32, F16 or BF16 (tensor '%s')",
                          f->path, xattn_st_dtype_name(t->dtype), printable(t->name, nb));
    }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal: '"' and '\' escaped, control bytes as \u00XX, UTF-8 passed through. */
/* s as a JSON string; ill-formed UTF-8 as U+FFFD (util/utf8.h), so the header stays valid
 * JSON whatever bytes a prompt's text holds. */
static void sb_json_string(strbuf *b, const char *raw) {
    char *valid = utf8_valid_dup(raw);
    if (!valid) {
        b->failed = 1;
        return;
    }
    sb_put(b, "\"", 1);
    for (const char *s = valid; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
    free(valid);
}

static void sb_size(strbuf *b, size_t v) {
    char num[32];
    snprintf(num, sizeof num, "%zu", v);
    sb_str(b, num);
}

xattn_status xattn_st_write_f32(const char *path, const xattn_st_write_tensor *tensors, size_t n_tensors,
                          const char *const *meta_keys, const char *const *meta_values,
                          size_t n_meta, xattn_error *err) {
    /* --- validate and build the header ------------------------------------------------------ */
    for (size_t i = 0; i < n_tensors; i++) {
        const xattn_st_write_tensor *t = &tensors[i];
        if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: tensor %zu has an invalid name", path, i);
        if (t->ndim < 0 || t->ndim > XATTN_ST_MAX_DIMS)
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: %d dimensions (tensor '%s')", path, t->ndim,
                              t->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return xattn_fail(err, XATTN_ERR_VALUE, "%s: duplicate tensor name (tensor '%s')", path,
                                  t->name);
    }
    for (size_t i = 0; i < n_meta; i++)
        if (!meta_keys[i] || !meta_values[i])
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: metadata entry %zu is NULL", path, i);

    strbuf h = {0};
    sb_str(&h, "{");
    if (n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, meta_keys[i]);
            sb_str(&h, ":");
            sb_json_string(&h, meta_values[i]);
        }
        sb_str(&h, "}");
    }
    size_t offset = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const xattn_st_write_tensor *t = &tensors[i];
        size_t numel = 1, nbytes;
        for (int d = 0; d < t->ndim; d++)
            if (__builtin_mul_overflow(numel, t->shape[d], &numel)) numel = SIZE_MAX;
        if (numel == SIZE_MAX || __builtin_mul_overflow(numel, (size_t)4, &nbytes) ||
            __builtin_add_overflow(offset, nbytes, &nbytes) || (numel && !t->data)) {
            free(h.s);
            return xattn_fail(err, XATTN_ERR_VALUE, "%s: bad shape or data (tensor '%s')", path,
                              t->name);
        }
        if (n_meta || i) sb_str(&h, ",");
        sb_json_string(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(&h, ",");
            sb_size(&h, t->shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_size(&h, offset);
        sb_str(&h, ",");
        sb_size(&h, nbytes); /* the end: offset + numel * 4 */
        sb_str(&h, "]}");
        offset = nbytes;
    }
    sb_str(&h, "}");
    while (!h.failed && h.len % 8 != 0) sb_str(&h, " "); /* data section 8-byte aligned */
    if (h.failed) {
        free(h.s);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", path);
    }

    /* --- write: u64 header length, header, F32 little-endian data ---------------------------- */
    atomic_file af;
    xattn_status s = atomic_file_open(&af, path, err);
    if (s != XATTN_OK) {
        free(h.s);
        return s;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.len >> (8 * i));
    int ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(h.s, 1, h.len, af.fp) == h.len;
    free(h.s);
    uint8_t buf[4096]; /* [1024 floats] little-endian staging */
    for (size_t i = 0; ok && i < n_tensors; i++) {
        const xattn_st_write_tensor *t = &tensors[i];
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        for (size_t k = 0; ok && k < numel;) {
            size_t m = numel - k < sizeof buf / 4 ? numel - k : sizeof buf / 4;
            for (size_t q = 0; q < m; q++) {
                uint32_t u;
                memcpy(&u, &t->data[k + q], 4);
                for (int b = 0; b < 4; b++) buf[4 * q + (size_t)b] = (uint8_t)(u >> (8 * b));
            }
            ok = fwrite(buf, 4, m, af.fp) == m;
            k += m;
        }
    }
    if (!ok) {
        int e = errno;
        atomic_file_abort(&af);
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return atomic_file_commit(&af, err);
}
