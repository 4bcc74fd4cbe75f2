/* reference.h — reading the tensors that tools/dump_reference.py dumped from diffusers. */
#ifndef XATTN_TEST_REFERENCE_H
#define XATTN_TEST_REFERENCE_H

#include <stddef.h>

#include "io/safetensors.h"

/* Opens tests/data/reference/<name>.safetensors; fails the test if it cannot. */
st_file *reference_open(const char *name);
/* A tensor as float32 (malloc'd); fails the test when missing. numel is set if not NULL. */
float *reference_tensor(const st_file *f, const char *name, size_t *numel);

#endif
