/* manifest.c — see manifest.h. */
#define _DEFAULT_SOURCE /* scandir, alphasort */
#include "xattn_io.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/utf8.h"

#define MAX_DEPTH 8
#define PATH_CAP 4096

/* SHA-256 of the file at path as hex; -1 when it cannot be read. */
static int hash_file(const char *path, char hex[65]) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    sha256_ctx c;
    sha256_init(&c);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) sha256_update(&c, buf, n);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) return -1;
    sha256_hex(&c, hex);
    return 0;
}

static int skip_dots(const struct dirent *e) {
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* ------------------------------------------------------------------------------------------ */
/* writing                                                                                     */

static cJSON *entry(const char *dir, const char *rel);

/* Adds every regular file below dir/rel to files; -1 on an error (errno set). */
static int list_files(const char *dir, const char *rel, int depth, cJSON *files) {
    char path[2 * PATH_CAP];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    struct dirent **entries = NULL;
    int n = scandir(path, &entries, skip_dots, alphasort);
    if (n < 0) return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char sub[PATH_CAP], full[2 * PATH_CAP];
        int long_name = snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", entries[i]->d_name) >=
                            (int)sizeof sub ||
                        snprintf(full, sizeof full, "%s/%s", dir, sub) >= (int)sizeof full;
        struct stat st;
        if (rc == 0 && (depth > 0 || strcmp(sub, XATTN_MANIFEST_NAME) != 0)) {
            if (long_name) {
                errno = ENAMETOOLONG;
                rc = -1;
            } else if (lstat(full, &st) != 0) {
                rc = -1;
            } else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
                rc = list_files(dir, sub, depth + 1, files);
            } else if (S_ISREG(st.st_mode)) {
                cJSON *f = entry(dir, sub);
                if (!f || !cJSON_AddItemToArray(files, f)) {
                    cJSON_Delete(f);
                    rc = -1;
                }
            }
            /* nothing else is written into these folders: no entry for it, so a check refuses */
        }
        free(entries[i]);
    }
    free(entries);
    return rc;
}

static xattn_status save(const char *dir, cJSON *root, xattn_error *err);

/* A manifest entry for the regular file dir/rel; NULL when it cannot be read (errno set). */
static cJSON *entry(const char *dir, const char *rel) {
    char full[2 * PATH_CAP];
    struct stat st;
    char hex[65];
    if (snprintf(full, sizeof full, "%s/%s", dir, rel) >= (int)sizeof full) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    if (lstat(full, &st) != 0) return NULL;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return NULL;
    }
    if (hash_file(full, hex) != 0) return NULL;
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddStringToObject(f, "path", rel) ||
        !cJSON_AddNumberToObject(f, "size", (double)st.st_size) ||
        !cJSON_AddStringToObject(f, "sha256", hex)) {
        cJSON_Delete(f);
        errno = ENOMEM;
        return NULL;
    }
    return f;
}

xattn_status xattn_manifest_write(const char *dir, xattn_error *err) {
    cJSON *root = cJSON_CreateObject(), *files = NULL;
    if (!root || !cJSON_AddStringToObject(root, "written_by", "xattn") ||
        !cJSON_AddNumberToObject(root, "version", 1) || !(files = cJSON_AddArrayToObject(root, "files"))) {
        cJSON_Delete(root);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    }
    if (list_files(dir, "", 0, files) != 0) {
        int e = errno;
        cJSON_Delete(root);
        return xattn_fail(err, XATTN_ERR_IO, "%s: cannot list the folder: %s", dir, strerror(e));
    }
    return save(dir, root, err);
}

/* Writes root (then frees it) as dir/XATTN_MANIFEST_NAME. */
static xattn_status save(const char *dir, cJSON *root, xattn_error *err) {
    char *text = xattn_json_print(root, 1);
    cJSON_Delete(root);
    if (!text) return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    size_t cap = strlen(dir) + sizeof XATTN_MANIFEST_NAME + 2;
    char *path = malloc(cap);
    if (!path) {
        free(text);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    }
    snprintf(path, cap, "%s/%s", dir, XATTN_MANIFEST_NAME);
    atomic_file f;
    xattn_status st = atomic_file_open(&f, path, err);
    if (st == XATTN_OK) {
        f.durable = 0; /* the folder is synced as a whole by its commit's rename */
        if (fputs(text, f.fp) < 0 || fputc('\n', f.fp) == EOF) {
            int e = errno;
            atomic_file_abort(&f);
            st = xattn_fail(err, XATTN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
        } else {
            st = atomic_file_commit(&f, err);
        }
    }
    free(path);
    free(text);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* checking                                                                                    */

/* The manifest's "files" array, or NULL when there is no valid manifest. */
static cJSON *load_manifest(const char *dir) {
    char path[2 * PATH_CAP];
    if (snprintf(path, sizeof path, "%s/%s", dir, XATTN_MANIFEST_NAME) >= (int)sizeof path) return NULL;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) return NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *text = malloc((size_t)st.st_size + 1);
    size_t n = text ? fread(text, 1, (size_t)st.st_size, fp) : 0;
    fclose(fp);
    if (!text) return NULL;
    text[n] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(root, "written_by");
    cJSON *files = cJSON_DetachItemFromObjectCaseSensitive(root, "files");
    int ok = cJSON_IsString(by) && strcmp(by->valuestring, "xattn") == 0 && cJSON_IsArray(files);
    cJSON_Delete(root);
    if (!ok) {
        cJSON_Delete(files);
        return NULL;
    }
    return files;
}

/* 1 when the regular file full matches the manifest entry f (size, then SHA-256). */
static int matches(const cJSON *f, const char *full, const struct stat *st) {
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(f, "sha256");
    char hex[65];
    return cJSON_IsNumber(size) && size->valuedouble == (double)st->st_size && cJSON_IsString(hash) &&
           hash_file(full, hex) == 0 && strcmp(hex, hash->valuestring) == 0;
}

static const cJSON *find_file(const cJSON *files, const char *rel) {
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
        if (cJSON_IsString(p) && strcmp(p->valuestring, rel) == 0) return f;
    }
    return NULL;
}

/* 1 when some listed file lies below the folder rel */
static int holds_listed(const cJSON *files, const char *rel) {
    size_t n = strlen(rel);
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
        if (cJSON_IsString(p) && strncmp(p->valuestring, rel, n) == 0 && p->valuestring[n] == '/')
            return 1;
    }
    return 0;
}

static int check_dir(const char *dir, const char *rel, int depth, const cJSON *files, char *name,
                     size_t cap, const char **why) {
    char path[2 * PATH_CAP];
    snprintf(path, sizeof path, "%s%s%s", dir, rel[0] ? "/" : "", rel);
    struct dirent **entries = NULL;
    int n = scandir(path, &entries, skip_dots, alphasort);
    if (n < 0) {
        snprintf(name, cap, "%s", path);
        return -1;
    }
    int found = 0;
    for (int i = 0; i < n; i++) {
        char sub[PATH_CAP], full[2 * PATH_CAP];
        int long_name = snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", entries[i]->d_name) >=
                            (int)sizeof sub ||
                        snprintf(full, sizeof full, "%s/%s", dir, sub) >= (int)sizeof full;
        free(entries[i]);
        if (found || (depth == 0 && files && strcmp(sub, XATTN_MANIFEST_NAME) == 0)) continue;
        struct stat st;
        const cJSON *f = files ? find_file(files, sub) : NULL;
        if (long_name) {
            *why = "its path is too long to check";
            found = 1;
        } else if (!files) {
            *why = "the folder has no valid xattn manifest";
            found = 1;
        } else if (lstat(full, &st) != 0) {
            *why = "it cannot be examined";
            found = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= MAX_DEPTH || !holds_listed(files, sub)) {
                *why = "not in the folder's manifest";
                found = 1;
            } else {
                found = check_dir(dir, sub, depth + 1, files, name, cap, why);
                if (found) continue; /* name holds the entry inside (or the folder at -1) */
            }
        } else if (!S_ISREG(st.st_mode) || !f) {
            *why = "not in the folder's manifest";
            found = 1;
        } else if (!matches(f, full, &st)) {
            *why = "changed since xattn wrote it";
            found = 1;
        }
        if (found) snprintf(name, cap, "%s", full);
    }
    free(entries);
    return found;
}

int xattn_manifest_owns(const char *dir, const char *rel, const char **why) {
    char full[2 * PATH_CAP];
    struct stat st;
    *why = "";
    if (snprintf(full, sizeof full, "%s/%s", dir, rel) >= (int)sizeof full) {
        *why = "its path is too long to check";
        return 0;
    }
    if (lstat(full, &st) != 0 && errno == ENOENT) return 1;
    cJSON *files = load_manifest(dir);
    const cJSON *f = files ? find_file(files, rel) : NULL;
    int owned = f && S_ISREG(st.st_mode) && matches(f, full, &st);
    if (!owned)
        *why = !files ? "the folder has no valid xattn manifest"
               : !f   ? "not in the folder's manifest"
                      : "changed since xattn wrote it";
    cJSON_Delete(files);
    return owned;
}

xattn_status xattn_manifest_add(const char *dir, const char *const *rels, size_t n, xattn_error *err) {
    cJSON *old = load_manifest(dir), *root = cJSON_CreateObject(), *files = NULL;
    if (!root || !cJSON_AddStringToObject(root, "written_by", "xattn") ||
        !cJSON_AddNumberToObject(root, "version", 1) || !(files = cJSON_AddArrayToObject(root, "files"))) {
        cJSON_Delete(old);
        cJSON_Delete(root);
        return xattn_fail(err, XATTN_ERR_NOMEM, "%s: out of memory", dir);
    }
    cJSON *f = old ? old->child : NULL;
    while (f) { /* the old entries that are not replaced */
        cJSON *next = f->next;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(f, "path");
        int replaced = !cJSON_IsString(p);
        for (size_t i = 0; !replaced && i < n; i++) replaced = strcmp(p->valuestring, rels[i]) == 0;
        if (!replaced) cJSON_AddItemToArray(files, cJSON_DetachItemViaPointer(old, f));
        f = next;
    }
    cJSON_Delete(old);
    for (size_t i = 0; i < n; i++) {
        cJSON *e = entry(dir, rels[i]);
        if (!e && errno == ENOENT) continue;
        if (!e || !cJSON_AddItemToArray(files, e)) {
            int code = errno;
            cJSON_Delete(e);
            cJSON_Delete(root);
            return xattn_fail(err, XATTN_ERR_IO, "%s/%s: cannot list it in the manifest: %s", dir,
                              rels[i], strerror(code));
        }
    }
    return save(dir, root, err);
}

int xattn_manifest_first_foreign(const char *dir, char *name, size_t cap, const char **why) {
    cJSON *files = load_manifest(dir);
    *why = "";
    int found = check_dir(dir, "", 0, files, name, cap, why);
    cJSON_Delete(files);
    return found;
}
