/* fuzz_safetensors.c — xattn_st_open on arbitrary bytes, then everything a caller may do with what it
 * accepted: every tensor (xattn_st_at, xattn_st_find, every element through xattn_st_element_f64, xattn_st_read_f32 on
 * the float dtypes and its refusal on the others) and every metadata pair.
 *
 * Checked beyond "no crash": the error contract (fuzz_check_status), and on success the
 * header's promises — numel = product of shape, nbytes = numel * dtype size, names and metadata
 * keys unique, the tensors' bytes disjoint and inside the data section (the file is mmapped,
 * where ASan cannot see an overread, so the span is checked here), xattn_st_read_f32 agreeing with
 * xattn_st_element_f64 element by element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "xattn_io.h"

static void check_tensor(const xattn_st_file *f, const xattn_st_tensor *t, size_t *total_bytes) {
    fuzz_require(t->name != NULL, "tensor without a name");
    fuzz_require(xattn_st_find(f, t->name) == t, "xattn_st_find does not find the tensor (duplicate name?)");
    fuzz_require(t->ndim >= 0 && t->ndim <= XATTN_ST_MAX_DIMS, "ndim out of range");
    size_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
    fuzz_require(numel == t->numel, "numel is not the product of shape");
    size_t esize = xattn_st_dtype_size(t->dtype);
    fuzz_require(esize > 0 && strcmp(xattn_st_dtype_name(t->dtype), "?") != 0, "unknown dtype accepted");
    fuzz_require(t->nbytes == numel * esize, "nbytes is not numel * dtype size");
    fuzz_require(t->nbytes == 0 || t->data != NULL, "tensor without data");
    *total_bytes += t->nbytes;

    double sum = 0; /* touches every byte of the tensor */
    for (size_t i = 0; i < numel; i++) sum += xattn_st_element_f64(t, i);
    (void)sum;

    xattn_error err = {0};
    float *out = malloc((numel ? numel : 1) * sizeof *out); /* [numel] */
    fuzz_require(out != NULL, "out of memory");
    xattn_status st = xattn_st_read_f32(f, t, out, &err);
    int is_float = t->dtype == XATTN_ST_F32 || t->dtype == XATTN_ST_F16 || t->dtype == XATTN_ST_BF16;
    if (is_float) {
        fuzz_require(st == XATTN_OK, "xattn_st_read_f32 refused a float tensor");
        for (size_t i = 0; i < numel; i++) {
            double e = xattn_st_element_f64(t, i);
            fuzz_require((isnan(out[i]) && isnan(e)) || (double)out[i] == e,
                         "xattn_st_read_f32 and xattn_st_element_f64 disagree");
        }
    } else {
        fuzz_require(st != XATTN_OK, "xattn_st_read_f32 accepted an integer tensor");
        fuzz_check_status(st, &err, xattn_st_path(f));
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_temp_file(data, size, ".safetensors");
    xattn_st_file *f = NULL;
    xattn_error err = {0};
    xattn_status st = xattn_st_open(path, &f, &err);
    fuzz_check_status(st, &err, path);
    if (st != XATTN_OK) {
        fuzz_require(f == NULL, "xattn_st_open failed but returned a file");
        return 0;
    }
    fuzz_require(f != NULL && strcmp(xattn_st_path(f), path) == 0, "xattn_st_open: wrong path");

    /* the data section: after the u64 header length and the header */
    uint64_t header_len = 0;
    for (int i = 0; i < 8; i++) header_len |= (uint64_t)data[i] << (8 * i);
    fuzz_require(header_len <= size - 8, "xattn_st_open accepted a header longer than the file");
    size_t data_size = size - 8 - (size_t)header_len;

    size_t n = xattn_st_count(f), total = 0;
    const uint8_t *lo = NULL, *hi = NULL; /* the span of all tensor bytes, in the mapping */
    for (size_t i = 0; i < n; i++) {
        const xattn_st_tensor *t = xattn_st_at(f, i);
        fuzz_require(t != NULL, "xattn_st_at returned NULL below xattn_st_count");
        check_tensor(f, t, &total);
        if (t->nbytes == 0) continue;
        if (!lo || t->data < lo) lo = t->data;
        if (!hi || t->data + t->nbytes > hi) hi = t->data + t->nbytes;
    }
    fuzz_require(xattn_st_at(f, n) == NULL, "xattn_st_at past the end is not NULL");
    fuzz_require(total <= data_size, "tensors need more bytes than the data section has");
    fuzz_require(!lo || (size_t)(hi - lo) <= data_size, "tensor bytes span past the data section");

    size_t n_meta = xattn_st_metadata_count(f);
    for (size_t i = 0; i < n_meta; i++) {
        const char *key, *value;
        xattn_st_metadata_at(f, i, &key, &value);
        fuzz_require(key && value, "NULL metadata key or value");
        fuzz_require(xattn_st_metadata(f, key) == value, "xattn_st_metadata does not find the key (duplicate?)");
    }
    const char *key, *value;
    xattn_st_metadata_at(f, n_meta, &key, &value);
    fuzz_require(!key && !value, "xattn_st_metadata_at past the end is not NULL");
    xattn_st_close(f);
    return 0;
}
