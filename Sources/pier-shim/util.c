#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void shim_log(const char *fmt, ...) {
    char line[1024];
    char ts[64];
    format_timestamp(ts);
    int n = snprintf(line, sizeof line, "%s pier-shim[%d]: ", ts, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof line) return;
    size_t room = sizeof line - (size_t)n - 1; /* one byte kept for the newline */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, room, fmt, ap);
    va_end(ap);
    size_t used = m < 0 ? 0 : ((size_t)m < room ? (size_t)m : room - 1);
    size_t len = (size_t)n + used;
    line[len++] = '\n';
    (void)write_all(STDERR_FILENO, line, len);
}

void format_timestamp(char out[64]) {
    struct timespec now;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        now.tv_sec = time(NULL);
        now.tv_nsec = 0;
    }
    if (gmtime_r(&now.tv_sec, &tm) == NULL) {
        memset(&tm, 0, sizeof tm);
    }
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (long)now.tv_nsec);
}

int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t read_small_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t total = 0;
    while (total + 1 < cap) {
        ssize_t n = read(fd, buf + total, cap - 1 - total);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0) break;
        total += (size_t)n;
    }
    buf[total] = '\0';
    if (close(fd) != 0 && errno != EINTR) return -1;
    return (ssize_t)total;
}

size_t json_quote(char *out, size_t cap, size_t len, const char *s) {
    static const char hex[] = "0123456789abcdef";
#define PUT(c) do { if (len + 1 < cap) out[len++] = (c); } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') { PUT('\\'); PUT((char)c); }
        else if (c == '\n') { PUT('\\'); PUT('n'); }
        else if (c == '\r') { PUT('\\'); PUT('r'); }
        else if (c == '\t') { PUT('\\'); PUT('t'); }
        else if (c < 0x20) { PUT('\\'); PUT('u'); PUT('0'); PUT('0'); PUT(hex[c >> 4]); PUT(hex[c & 15]); }
        else PUT((char)c);
    }
    PUT('"');
#undef PUT
    if (len < cap) out[len] = '\0';
    return len;
}

/* Decodes the JSON string starting after its opening quote into `out`. */
static void json_unquote(const char *p, char *out, size_t cap) {
    size_t len = 0;
    while (*p && *p != '"' && len + 4 < cap) {
        if (*p != '\\') { out[len++] = *p++; continue; }
        p++;
        switch (*p) {
        case 'n': out[len++] = '\n'; p++; break;
        case 't': out[len++] = '\t'; p++; break;
        case 'r': out[len++] = '\r'; p++; break;
        case 'b': out[len++] = '\b'; p++; break;
        case 'f': out[len++] = '\f'; p++; break;
        case 'u': {
            unsigned v = 0;
            int ok = 1;
            for (int i = 1; i <= 4; i++) {
                char h = p[i];
                v <<= 4;
                if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                else { ok = 0; break; }
            }
            if (!ok) { out[len++] = '?'; p++; break; }
            p += 5;
            /* Surrogate pairs are rare in runc's messages; keep the BMP exact. */
            if (v < 0x80) out[len++] = (char)v;
            else if (v < 0x800) { out[len++] = (char)(0xC0 | (v >> 6)); out[len++] = (char)(0x80 | (v & 0x3F)); }
            else {
                out[len++] = (char)(0xE0 | (v >> 12));
                out[len++] = (char)(0x80 | ((v >> 6) & 0x3F));
                out[len++] = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        case '\0': break;
        default: out[len++] = *p++; break;
        }
    }
    out[len] = '\0';
}

void runc_log_error(const char *path, char *msg, size_t cap) {
    msg[0] = '\0';
    /* runc writes a handful of lines; its error is among the last ones. */
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size > (off_t)(sizeof buf - 1) ? size - (off_t)(sizeof buf - 1) : 0;
    if (size < 0 || lseek(fd, start, SEEK_SET) < 0) { close(fd); return; }
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf + total, sizeof buf - 1 - total);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        total += (size_t)n;
        if (total == sizeof buf - 1) break;
    }
    close(fd);
    buf[total] = '\0';
    char *line = buf;
    while (line && *line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (strstr(line, "\"level\":\"error\"") || strstr(line, "\"level\":\"fatal\"")) {
            char *m = strstr(line, "\"msg\":\"");
            if (m) json_unquote(m + 7, msg, cap);
        }
        line = next;
    }
}

int write_file_atomic(const char *path, const char *data, size_t len) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, data, len) != 0) {
        int saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        return -1;
    }
    if (close(fd) != 0) { int saved = errno; unlink(tmp); errno = saved; return -1; }
    if (rename(tmp, path) != 0) { int saved = errno; unlink(tmp); errno = saved; return -1; }
    return 0;
}
