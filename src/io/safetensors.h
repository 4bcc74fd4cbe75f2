/* safetensors.h — reading and writing safetensors files.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value", ...}}
 * then the data section; offsets are relative to the data section. The reader maps (or reads)
 * the whole file once and checks every offset, size and shape product against it before use. */
#ifndef XATTN_IO_SAFETENSORS_H
#define XATTN_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

typedef enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_U8, ST_BOOL, ST_F64 } st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    size_t shape[ST_MAX_DIMS];
    size_t numel;          /* product of shape (1 for a scalar) */
    const uint8_t *data;   /* into the file's data section; numel * dtype size bytes, little-endian,
                              possibly unaligned: decode with st_read_f32 / st_element_f64 */
    size_t nbytes;
} st_tensor;

typedef struct st_file st_file;

xattn_status st_open(const char *path, st_file **out, xattn_error *err);
void st_close(st_file *f);

const char *st_path(const st_file *f);
size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);              /* in file order */
const st_tensor *st_find(const st_file *f, const char *name);    /* NULL if absent */
const char *st_metadata(const st_file *f, const char *key);      /* NULL if absent */
size_t st_metadata_count(const st_file *f);
void st_metadata_at(const st_file *f, size_t i, const char **key, const char **value);
const char *st_dtype_name(st_dtype d);                          /* "F32", ... */
size_t st_dtype_size(st_dtype d);

/* Converts an F32/F16/BF16 tensor to float32 into out[numel]; other dtypes are refused
 * naming the file and tensor. */
xattn_status st_read_f32(const st_file *f, const st_tensor *t, float *out, xattn_error *err);

/* One element of any dtype as a double (I64 beyond 2^53 rounds); i < t->numel. */
double st_element_f64(const st_tensor *t, size_t i);

/* Exact IEEE binary16 / bfloat16 -> binary32 (subnormals, inf and nan included). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);

/* Writing (F32 only, which is all xattn writes): atomically (temp name + rename). */
typedef struct st_write_tensor {
    const char *name;
    int ndim;
    size_t shape[ST_MAX_DIMS];
    const float *data;
} st_write_tensor;

xattn_status st_write_f32(const char *path, const st_write_tensor *tensors, size_t n_tensors,
                          const char *const *meta_keys, const char *const *meta_values,
                          size_t n_meta, xattn_error *err);

#endif
