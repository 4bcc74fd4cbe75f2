/* xattn_io.h — libxattn's files: safetensors, images (PNG with text chunks, image input),
 * image and tensor comparison, folders. The engine's own API is in xattn.h.
 *
 * safetensors ("st"): u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value", ...}}
 * then the data section; offsets are relative to the data section. The reader maps (or reads)
 * the whole file once and checks every offset, size and shape product against it before use.
 *
 * Pixels are 8-bit interleaved, row-major: pixels[(y * width + x) * channels + c], channels 3
 * (RGB) or 1 (gray). Every writer here writes atomically: a temporary name beside the final
 * one, then a rename, so a failed or killed run leaves the old file or the complete new one. */
#ifndef XATTN_IO_H
#define XATTN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "xattn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* safetensors                                                                                 */

typedef enum xattn_st_dtype {
    XATTN_ST_F32, XATTN_ST_F16, XATTN_ST_BF16, XATTN_ST_I64, XATTN_ST_I32, XATTN_ST_U8,
    XATTN_ST_BOOL, XATTN_ST_F64
} xattn_st_dtype;

#define XATTN_ST_MAX_DIMS 8

typedef struct xattn_st_tensor {
    char *name;
    xattn_st_dtype dtype;
    int ndim;
    size_t shape[XATTN_ST_MAX_DIMS];
    size_t numel;          /* product of shape (1 for a scalar) */
    const uint8_t *data;   /* into the file's data section; numel * dtype size bytes, little-endian,
                              possibly unaligned: decode with xattn_st_read_f32 or
                              xattn_st_element_f64 */
    size_t nbytes;
} xattn_st_tensor;

typedef struct xattn_st_file xattn_st_file;

xattn_status xattn_st_open(const char *path, xattn_st_file **out, xattn_error *err);
void xattn_st_close(xattn_st_file *f);

const char *xattn_st_path(const xattn_st_file *f);
size_t xattn_st_count(const xattn_st_file *f);
const xattn_st_tensor *xattn_st_at(const xattn_st_file *f, size_t i);           /* file order */
const xattn_st_tensor *xattn_st_find(const xattn_st_file *f, const char *name); /* or NULL */
const char *xattn_st_metadata(const xattn_st_file *f, const char *key);      /* NULL if absent */
size_t xattn_st_metadata_count(const xattn_st_file *f);
void xattn_st_metadata_at(const xattn_st_file *f, size_t i, const char **key, const char **value);
const char *xattn_st_dtype_name(xattn_st_dtype d);                          /* "F32", ... */
size_t xattn_st_dtype_size(xattn_st_dtype d);

/* Converts an F32/F16/BF16 tensor to float32 into out[numel]; other dtypes are refused
 * naming the file and tensor. */
xattn_status xattn_st_read_f32(const xattn_st_file *f, const xattn_st_tensor *t, float *out,
                               xattn_error *err);

/* One element of any dtype as a double (I64 beyond 2^53 rounds); i < t->numel. */
double xattn_st_element_f64(const xattn_st_tensor *t, size_t i);

/* Exact IEEE binary16 / bfloat16 -> binary32 (subnormals, inf and nan included). */
float xattn_st_f16_to_f32(uint16_t h);
float xattn_st_bf16_to_f32(uint16_t b);

/* Writing (F32 only, which is all xattn writes): atomically (temp name + rename). */
typedef struct xattn_st_write_tensor {
    const char *name;
    int ndim;
    size_t shape[XATTN_ST_MAX_DIMS];
    const float *data;
} xattn_st_write_tensor;

xattn_status xattn_st_write_f32(const char *path, const xattn_st_write_tensor *tensors,
                                size_t n_tensors, const char *const *meta_keys,
                                const char *const *meta_values, size_t n_meta, xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Images                                                                                      */

typedef struct xattn_text_pair {
    const char *key;    /* Latin-1 keyword, 1..79 chars */
    const char *value;  /* UTF-8 text: written as an iTXt chunk */
} xattn_text_pair;

typedef struct xattn_png_options {
    int durable; /* fsync before the rename (default 1); 0 for many files synced at once later */
    int fast;    /* zlib level 1, no row filters, 512-byte window: for small flat images, about
                  * as small as the defaults and several times faster (default 0: libpng's) */
} xattn_png_options;

/* Writes an 8-bit PNG, channels 1 (gray) or 3 (RGB), pixels [height, width, channels], with
 * the text as iTXt chunks, atomically (temporary name beside path, then rename); leaves no file
 * on failure. opt NULL = defaults. (Not png_write_image: libpng owns that name.) */
xattn_status xattn_png_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                             int channels, const xattn_text_pair *text, size_t n_text,
                             const xattn_png_options *opt, xattn_error *err);

/* xattn_png_write with channels 3 and default options. */
xattn_status xattn_png_write_rgb(const char *path, const uint8_t *rgb, size_t width, size_t height,
                                 const xattn_text_pair *text, size_t n_text, xattn_error *err);

/* Encodes an 8-bit PNG (channels 1 or 3, pixels [height, width, channels], no text) in memory:
 * *png is malloc'd [*png_len]. */
xattn_status xattn_png_encode(const uint8_t *pixels, size_t width, size_t height, int channels,
                              uint8_t **png, size_t *png_len, xattn_error *err);

/* Reads a PNG's text chunks (tEXt, zTXt, iTXt; tEXt/zTXt Latin-1 is converted to UTF-8) and
 * size. keys/values are malloc'd arrays of malloc'd strings; free with xattn_png_info_free.
 * (Not png_info / png_read_info: libpng owns those names, for a type and a function.) */
typedef struct xattn_png_info {
    size_t width, height;
    int bit_depth, color_type;
    size_t n_text;
    char **keys;
    char **values;
} xattn_png_info;
xattn_status xattn_png_read_info(const char *path, xattn_png_info *out, xattn_error *err);
void xattn_png_info_free(xattn_png_info *info);
/* What `xattn info --json` prints for a PNG: {"kind": "png", "path", "width", "height",
 * "text": {key: value, ...}}, as a cJSON tree (free with cJSON_Delete); print it with a printer
 * that makes ill-formed UTF-8 valid, since a value may hold an iTXt chunk's bytes as they are.
 * NULL if out of memory. */
struct cJSON;
struct cJSON *xattn_png_info_json(const xattn_png_info *info, const char *path);


/* Reads any image stb_image reads (PNG, JPEG, BMP, ...) as 8-bit RGB; *rgb is malloc'd. */
xattn_status xattn_image_read_rgb(const char *path, uint8_t **rgb, size_t *width, size_t *height,
                                  xattn_error *err);

/* Converts one image chw [C, H, W] in [-1, 1], C = 3 or 1 (grey: the one plane for R, G and
 * B), to interleaved RGB8 rgb [H, W, 3]: round(clamp(x / 2 + 0.5, 0, 1) * 255), like
 * diffusers' numpy_to_pil. */
void xattn_image_to_rgb8(const float *chw, int channels, size_t height, size_t width, uint8_t *rgb);

/* The other way, for image-to-image: init [channels, size, size] in [-1, 1] (pixel / 127.5 - 1)
 * from any image xattn_image_read_rgb reads, resized to size x size (stb_image_resize) when its
 * size differs; channels 1 takes the mean of R, G and B. */
xattn_status xattn_image_read_sample(const char *path, int channels, size_t size, float *init,
                                     xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* The one writer of output images: the format is chosen by the file name's
 * extension (case-insensitive) or given explicitly.
 *
 *   .png           libpng (xattn_png_write), the text as iTXt chunks
 *   .jpg, .jpeg    stb_image_write, baseline JPEG at a quality 1..100
 *   .bmp           stb_image_write, 24-bit BMP
 *   .tga           stb_image_write, TGA (RLE-compressed, as stb_image_write does by default)
 *
 * JPEG, BMP and TGA hold no text: the text goes into a sidecar "PATH.json" (out.jpg ->
 * out.jpg.json), one JSON object {key: value, ...} in the text's order, written compact on one
 * line (valid UTF-8: bytes that are not are replaced by U+FFFD). The image and its sidecar are
 * each written under a temporary name beside the final one; both are complete before either is
 * renamed into place. */

typedef enum xattn_image_format {
    XATTN_IMAGE_FORMAT_UNKNOWN = 0,
    XATTN_IMAGE_FORMAT_PNG,
    XATTN_IMAGE_FORMAT_JPEG,
    XATTN_IMAGE_FORMAT_BMP,
    XATTN_IMAGE_FORMAT_TGA,
} xattn_image_format;

/* For messages: the extensions xattn_image_format_from_path knows. */
#define XATTN_IMAGE_FORMAT_EXTENSIONS ".png, .jpg, .jpeg, .bmp or .tga"
#define XATTN_JPEG_QUALITY_DEFAULT 90

typedef struct xattn_image_options {
    xattn_image_format format; /* XATTN_IMAGE_FORMAT_UNKNOWN: from the path's extension */
    int quality;         /* JPEG quality, 1..100 */
    int durable;         /* fsync before the rename (as xattn_png_options) */
    int fast;            /* PNG only: xattn_png_options.fast */
} xattn_image_options;

/* Defaults: format from the path, quality 90, durable, libpng's default compression. */
void xattn_image_options_init(xattn_image_options *opt);

/* The format of a file name's extension (the part after the last '.' of its last component),
 * case-insensitive; XATTN_IMAGE_FORMAT_UNKNOWN when there is none or it is not one of the above. */
xattn_image_format xattn_image_format_from_path(const char *path);
/* The format called `name`: "png", "jpg", "jpeg", "bmp" or "tga", case-insensitive. */
xattn_image_format xattn_image_format_from_name(const char *name);
/* "png", "jpg", "bmp", "tga" (the extension written for the format, without the dot); "" for
 * XATTN_IMAGE_FORMAT_UNKNOWN. */
const char *xattn_image_format_extension(xattn_image_format f);
/* 1 when the format carries the text itself (PNG), 0 when it takes a sidecar. */
int xattn_image_format_has_text(xattn_image_format f);

/* "PATH.json", malloc'd; NULL if out of memory. */
char *xattn_image_sidecar_path(const char *path);

/* Writes pixels [height, width, channels] (8-bit, channels 1 = gray or 3 = RGB) to path in
 * opt's format (or the path's), with the text in the file (PNG) or in the sidecar PATH.json
 * (the others; written even when n_text is 0, so that a file's sidecar is never a stale one).
 * Atomic: leaves no file and no temporary on failure. opt NULL = defaults. Errors name path:
 * an unknown extension is XATTN_ERR_VALUE. */
xattn_status xattn_image_write(const char *path, const uint8_t *pixels, size_t width, size_t height,
                               int channels, const xattn_text_pair *text, size_t n_text,
                               const xattn_image_options *opt, xattn_error *err);

/* Writes n images, all or none: image k, pixels [n, height, width, channels] from k * height *
 * width * channels on, to paths[k] with its text texts[k][n_texts[k]], in opt's format (or each
 * path's), each with its sidecar where its format takes one. Every file is written under a
 * temporary name beside it (".NAME.xattn-PID.EXT") and renamed into place only when all are
 * written; on failure none is, and existing files keep their contents. Errors name paths[k]. */
xattn_status xattn_images_write(const char *const *paths, size_t n, const uint8_t *pixels,
                                size_t width, size_t height, int channels,
                                const xattn_text_pair *const *texts, const size_t *n_texts,
                                const xattn_image_options *opt, xattn_error *err);

/* Writes the heatmaps of images 0 .. batch-1 of h's last generation as one folder, replaced
 * whole: dir itself for one image, dir/0 ... dir/(batch-1) for more, each as
 * xattn_heatmaps_write_as writes it (rgb: [batch, height, width, 3], the generated images), and
 * the folder's manifest last. The folder is built beside dir and swapped in at once; the old
 * one is deleted only if it still passes xattn_heatmaps_dir_replaceable. Errors name dir. */
xattn_status xattn_heatmaps_write_folder(const xattn_heatmaps *h, const uint8_t *rgb,
                                         size_t batch, const char *dir,
                                         const xattn_image_options *opt, xattn_error *err);

/* xattn_heatmaps_write with the overlays and the grid in opt's format (PNG, JPEG, BMP or TGA;
 * opt NULL or format XATTN_IMAGE_FORMAT_UNKNOWN = PNG) and quality: DIR/<i>-<word>.<ext> and
 * DIR/grid.<ext> (ext png, jpg, bmp or tga), each jpg, bmp or tga with its sidecar .json. */
xattn_status xattn_heatmaps_write_as(const xattn_heatmaps *h, size_t image, const uint8_t *rgb,
                                     const char *dir, const xattn_image_options *opt,
                                     xattn_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Comparing two images: what `xattn compare` reports and the golden tests check.
 * Images are 8-bit RGB [h, w, 3]. Differences are in 0-255 units over all 3 W H samples:
 *   max_abs  = max |a - b|
 *   mean_abs = sum |a - b| / (3 W H)
 *   mse      = sum (a - b)^2 / (3 W H)
 *   psnr_db  = 10 log10(255^2 / mse), +INFINITY when mse = 0 (identical images). */

typedef struct xattn_image_diff {
    size_t width, height;
    unsigned max_abs;         /* 0..255 */
    double mean_abs;          /* 0..255 */
    double mse;               /* 0..65025 */
    double psnr_db;           /* +INFINITY when identical */
    size_t differing_pixels;  /* pixels with any channel different, 0..W H */
    /* The first sample (row-major) where |a - b| = max_abs; all 0 when identical. */
    size_t worst_x, worst_y;
    int worst_channel;        /* 0 R, 1 G, 2 B */
    uint8_t worst_a, worst_b;
} xattn_image_diff;

/* Fills *out for a, b [h, w, 3]. Fails (XATTN_ERR_VALUE) on an empty image and
 * (XATTN_ERR_NOMEM) when 3 w h overflows size_t. */
xattn_status xattn_image_compare(const uint8_t *a, const uint8_t *b, size_t w, size_t h,
                                 xattn_image_diff *out, xattn_error *err);

/* The difference image's amplification: diff = min(255, XATTN_IMAGE_DIFF_GAIN * |a - b|) per
 * channel,
 * so a 1-level difference shows as 8 and anything >= 32 as full brightness; identical = black. */
#define XATTN_IMAGE_DIFF_GAIN 8u

/* diff [h, w, 3] (caller's buffer) = min(255, XATTN_IMAGE_DIFF_GAIN * |a - b|) per channel. */
void xattn_image_diff_render(const uint8_t *a, const uint8_t *b, size_t w, size_t h, uint8_t *diff);

/* Whether stats pass the limits: max_abs <= max_abs_limit and psnr_db >= min_psnr_db (pass
 * -INFINITY for no PSNR limit, 255 for no max-abs limit). */
int xattn_image_diff_within(const xattn_image_diff *stats, unsigned max_abs_limit,
                            double min_psnr_db);

/* ------------------------------------------------------------------------------------------ */
/* Comparing the tensors of two safetensors files (both must hold the same names with the same
 * shapes; any numeric dtypes, compared as doubles). Per tensor: max_abs = max |a - b|,
 * mean_abs = sum |a - b| / numel. Two NaNs at one index, or two equal infinities, count as
 * equal; a NaN against a number, or opposite infinities, as an infinite difference. */

typedef struct xattn_tensor_diff {
    const xattn_st_tensor *a, *b;  /* the pair, owned by the files */
    double max_abs;          /* +INFINITY for a NaN or infinity mismatch */
    double mean_abs;
    size_t worst;            /* flat index of the first element with |a - b| = max_abs */
    double worst_a, worst_b;
} xattn_tensor_diff;

/* Pairs the tensors of a and b in a's file order into *diffs (malloc'd, [*n] =
 * xattn_st_count(a)).
 * Fails naming the file and tensor when a tensor is only in one file or the shapes differ. */
xattn_status xattn_tensor_compare(const xattn_st_file *a, const xattn_st_file *b,
                                  xattn_tensor_diff **diffs, size_t *n, xattn_error *err);

/* The first metadata key whose value differs between a and b (or is in only one of them);
 * NULL when the metadata is the same. */
const char *xattn_tensor_metadata_difference(const xattn_st_file *a, const xattn_st_file *b);

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                        */

/* cJSON_PrintUnformatted (or cJSON_Print when formatted) as valid UTF-8 JSON text, whatever bytes
 * its strings hold (each ill-formed sequence becomes U+FFFD): what every JSON writer of xattn
 * prints. malloc'd (free with free); NULL if out of memory. */
struct cJSON;
char *xattn_json_print(const struct cJSON *j, int formatted);

/* ------------------------------------------------------------------------------------------ */
/* Folders                                                                                     */

/* mkdir -p: creates dir and its missing parents; an existing folder is fine. Errors name the
 * folder asked for and the part that failed: "<dir>: <part> is not a folder". */
xattn_status xattn_make_dirs(const char *dir, xattn_error *err);

/* Manifests: which files of a folder xattn wrote.
 *
 * A folder that xattn replaces as a whole (--heatmaps DIR) gets a manifest,
 * DIR/xattn-manifest.json,
 * written last: every file in the folder (and its subfolders) with its path inside the folder,
 * its size and its SHA-256. Before such a folder is replaced, and again on the old folder just
 * before it is deleted, every entry in it must match: a regular file listed with the same size
 * and hash, or a folder that holds listed files. Anything else (a file of the user's, one
 * changed since, a link, a folder without a manifest) means the folder is not xattn's to delete.
 *
 *   {"written_by": "xattn", "version": 1,
 *    "files": [{"path": "0-a.png", "size": 1234, "sha256": "<64 hex digits>"}, ...]} */

#define XATTN_MANIFEST_NAME "xattn-manifest.json"

/* Writes dir/XATTN_MANIFEST_NAME listing every file below dir (sorted by path). */
xattn_status xattn_manifest_write(const char *dir, xattn_error *err);

/* The first entry of dir (in sorted order, depth first) that the manifest does not match:
 * returns 1 with its path ("<dir>/<path inside>") in name[cap] and a short reason in *why;
 * 0 when every entry matches (an empty folder included); -1 when a folder cannot be read
 * (errno set, name holds it). */
int xattn_manifest_first_foreign(const char *dir, char *name, size_t cap, const char **why);

/* For a folder xattn writes files into without replacing it (eval --out): 1 when dir/rel does
 * not exist or the manifest lists it with its size and hash (xattn may overwrite it), else 0
 * with a short reason in *why. */
int xattn_manifest_owns(const char *dir, const char *rel, const char **why);
/* Adds (or updates) the entries of the files dir/rels[0..n) to dir/XATTN_MANIFEST_NAME, keeping
 * the other entries; a file that no longer exists is left out. */
xattn_status xattn_manifest_add(const char *dir, const char *const *rels, size_t n,
                                xattn_error *err);

#ifdef __cplusplus
}
#endif

#endif
