#define _POSIX_C_SOURCE 200809L
#include "xattn_io.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"

xattn_status xattn_make_dirs(const char *dir, xattn_error *err) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) return xattn_fail(err, XATTN_ERR_VALUE, "%s: bad folder name", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        struct stat sb;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return xattn_fail(err, XATTN_ERR_IO, "%s: cannot create folder %s: %s", dir, buf,
                              strerror(errno));
        if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return xattn_fail(err, XATTN_ERR_IO, "%s: %s is not a folder", dir, buf);
        buf[i] = c;
    }
    return XATTN_OK;
}
