/* npy.h — reading a 2-D NumPy .npy array as float32.
 *
 * Accepted: format versions 1.0, 2.0 and 3.0; descr '<f4', '<f2' or '<f8'; fortran_order False;
 * shape (rows, cols). The data must be exactly rows * cols * itemsize bytes after the header. */
#ifndef XATTN_IO_NPY_H
#define XATTN_IO_NPY_H

#include <stddef.h>

#include "xattn.h"

/* *data: malloc'd [rows, cols] row-major float32 (not NULL on success, even when empty); the
 * caller frees it. On failure *data is NULL and err says "<path>: <what is wrong>". */
xattn_status npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols, xattn_error *err);

#endif
