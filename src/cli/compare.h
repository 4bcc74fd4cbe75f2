/* compare.h — `xattn compare`'s parsed command line, shared by the image comparison
 * (cmd_compare.c) and the tensor comparison (compare_tensors.c). */
#ifndef XATTN_CLI_COMPARE_H
#define XATTN_CLI_COMPARE_H

typedef struct compare_request {
    const char *path_a, *path_b;
    int tensors;              /* both paths end in .safetensors */
    const char *diff_path;    /* images: NULL for no difference image */
    unsigned max_abs_limit;   /* images: 0..255 */
    int has_min_psnr;
    double min_psnr_db;       /* images: -INFINITY without --min-psnr */
    int has_atol;
    double atol;              /* tensors: max abs difference allowed, default 0 */
    int json;
} compare_request;

/* Compares two safetensors files tensor by tensor, prints the report (text or JSON) and returns
 * the exit code: 0 within --atol with equal metadata, 1 past it or on a bad input. */
int compare_tensor_files(const compare_request *req);

#endif
