/* tensor_compare.h — element differences between the tensors of two safetensors files: what
 * `xattn compare A.safetensors B.safetensors` reports and the golden heatmap tests check.
 *
 * Both files must hold the same tensor names with the same shapes (any numeric dtypes, compared
 * as doubles). Per tensor: max_abs = max |a - b|, mean_abs = sum |a - b| / numel. Two NaNs at
 * one index, or two equal infinities, count as equal; a NaN against a number, or opposite
 * infinities, as an infinite difference. */
#ifndef XATTN_IO_TENSOR_COMPARE_H
#define XATTN_IO_TENSOR_COMPARE_H

#include <stddef.h>

#include "io/safetensors.h"

typedef struct tensor_diff {
    const st_tensor *a, *b;  /* the pair, owned by the files */
    double max_abs;          /* +INFINITY for a NaN or infinity mismatch */
    double mean_abs;
    size_t worst;            /* flat index of the first element with |a - b| = max_abs */
    double worst_a, worst_b;
} tensor_diff;

/* Pairs the tensors of a and b in a's file order into *diffs (malloc'd, [*n] = st_count(a)).
 * Fails naming the file and tensor when a tensor is only in one file or the shapes differ. */
xattn_status tensor_compare(const st_file *a, const st_file *b, tensor_diff **diffs, size_t *n,
                            xattn_error *err);

/* The first metadata key whose value differs between a and b (or is in only one of them);
 * NULL when the metadata is the same. */
const char *tensor_metadata_difference(const st_file *a, const st_file *b);

#endif
