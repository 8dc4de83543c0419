#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The CRI log format (as kubelet and containerd write it), one entry per line:
 *
 *   2026-01-02T15:04:05.123456789Z stdout F hello world
 *   ^ RFC 3339 UTC, nanoseconds     ^stream ^ F: full line, P: partial (split or cut at EOF)
 */

#define OUT_CAP (128 * 1024)

int log_writer_open(struct log_writer *w, const char *path, long long max_size, int max_files) {
    memset(w, 0, sizeof *w);
    w->path = path;
    w->max_size = max_size;
    w->max_files = max_files < 1 ? 1 : max_files;
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (w->fd < 0) return -1;
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        int saved = errno;
        close(w->fd);
        errno = saved;
        return -1;
    }
    w->size = (long long)st.st_size;
    w->out = malloc(OUT_CAP);
    if (w->out == NULL) {
        close(w->fd);
        errno = ENOMEM;
        return -1;
    }
    w->out_cap = OUT_CAP;
    return 0;
}

static void flush(struct log_writer *w) {
    if (w->out_len == 0) return;
    if (w->fd >= 0) {
        if (write_all(w->fd, w->out, w->out_len) != 0) {
            /* A full disk must not stop the container: its output is dropped, not blocked. */
            shim_log("writing %zu bytes to %s: %s; output dropped", w->out_len, w->path, strerror(errno));
        } else {
            w->size += (long long)w->out_len;
        }
    }
    w->out_len = 0;
}

static void rotate(struct log_writer *w) {
    char from[4096], to[4096];
    if (w->fd >= 0 && close(w->fd) != 0) shim_log("closing %s: %s", w->path, strerror(errno));
    w->fd = -1;
    if (w->max_files > 1) {
        snprintf(to, sizeof to, "%s.%d", w->path, w->max_files - 1);
        if (unlink(to) != 0 && errno != ENOENT) shim_log("removing %s: %s", to, strerror(errno));
        for (int i = w->max_files - 2; i >= 1; i--) {
            snprintf(from, sizeof from, "%s.%d", w->path, i);
            snprintf(to, sizeof to, "%s.%d", w->path, i + 1);
            if (rename(from, to) != 0 && errno != ENOENT) shim_log("renaming %s: %s", from, strerror(errno));
        }
        snprintf(to, sizeof to, "%s.1", w->path);
        if (rename(w->path, to) != 0 && errno != ENOENT) shim_log("renaming %s: %s", w->path, strerror(errno));
    }
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
    if (w->fd < 0) shim_log("reopening %s after rotation: %s", w->path, strerror(errno));
    w->size = 0;
}

static void emit(struct log_writer *w, const char *stream, char tag, const char *ts, const char *text, size_t len) {
    size_t ts_len = strlen(ts), stream_len = strlen(stream);
    size_t entry = ts_len + 1 + stream_len + 3 + len + 1;
    if (w->max_size > 0) {
        long long pending = w->size + (long long)w->out_len;
        if (pending > 0 && pending + (long long)entry > w->max_size) {
            flush(w);
            rotate(w);
        }
    }
    if (w->out_len + entry > w->out_cap) flush(w);
    if (entry > w->out_cap) return; /* cannot happen: lines are cut at SHIM_LOG_LINE_MAX */
    char *p = w->out + w->out_len;
    memcpy(p, ts, ts_len); p += ts_len;
    *p++ = ' ';
    memcpy(p, stream, stream_len); p += stream_len;
    *p++ = ' ';
    *p++ = tag;
    *p++ = ' ';
    memcpy(p, text, len); p += len;
    *p++ = '\n';
    w->out_len += entry;
}

void log_writer_feed(struct log_writer *w, struct log_stream *s, const char *data, size_t len) {
    char ts[64];
    format_timestamp(ts);
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        while (seg > 0) {
            if (s->partial_len == SHIM_LOG_LINE_MAX) {
                emit(w, s->name, 'P', ts, s->partial, s->partial_len);
                s->partial_len = 0;
            }
            size_t take = SHIM_LOG_LINE_MAX - s->partial_len;
            if (take > seg) take = seg;
            memcpy(s->partial + s->partial_len, data, take);
            s->partial_len += take;
            data += take;
            len -= take;
            seg -= take;
        }
        if (nl) {
            emit(w, s->name, 'F', ts, s->partial, s->partial_len);
            s->partial_len = 0;
            data++;
            len--;
        }
    }
    flush(w);
}

void log_writer_finish_stream(struct log_writer *w, struct log_stream *s) {
    if (s->partial_len > 0) {
        char ts[64];
        format_timestamp(ts);
        emit(w, s->name, 'P', ts, s->partial, s->partial_len);
        s->partial_len = 0;
    }
    flush(w);
}

void log_writer_close(struct log_writer *w) {
    flush(w);
    if (w->fd >= 0 && close(w->fd) != 0) shim_log("closing %s: %s", w->path, strerror(errno));
    w->fd = -1;
    free(w->out);
    w->out = NULL;
}
