/*
 * pier-shim: a tiny per-container supervisor (like conmon).
 *
 * It starts the container through runc, becomes the subreaper of the container's init,
 * copies the container's stdout and stderr into a CRI-format log file with rotation, and
 * records the exit in a JSON file when the container ends. It never dies with the agent.
 */
#ifndef PIER_SHIM_H
#define PIER_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Command line of the shim; every path is absolute. */
struct shim_options {
    const char *id;
    const char *bundle;
    const char *runc;
    const char *runc_root;
    const char *log_path;
    const char *exit_file;
    const char *pid_file;
    int foreground;
    long long log_max_size; /* 0: no rotation */
    int log_max_files;      /* files kept including the current one, >= 1 */
};

/* ---- log.c: CRI log writer ---------------------------------------------------------- */

/* Longest line kept whole; longer ones are split into partial (P) entries. */
#define SHIM_LOG_LINE_MAX 16384

struct log_stream {
    const char *name; /* "stdout" or "stderr" */
    char partial[SHIM_LOG_LINE_MAX];
    size_t partial_len;
};

struct log_writer {
    const char *path;
    int fd;
    long long size;
    long long max_size;
    int max_files;
    char *out;       /* pending entries, written with one write(2) */
    size_t out_len;
    size_t out_cap;
};

int log_writer_open(struct log_writer *w, const char *path, long long max_size, int max_files);
/* Appends the lines in `data` to the log; a line without its newline waits for more data. */
void log_writer_feed(struct log_writer *w, struct log_stream *s, const char *data, size_t len);
/* Writes what is left of an unterminated line as a partial entry (at EOF). */
void log_writer_finish_stream(struct log_writer *w, struct log_stream *s);
void log_writer_close(struct log_writer *w);

/* ---- util.c ------------------------------------------------------------------------- */

/* RFC 3339 UTC time with nanoseconds: 2026-01-02T15:04:05.123456789Z (31 bytes + NUL; 64 leaves room for any year). */
void format_timestamp(char out[64]);
/* Writes all of `buf`, retrying on EINTR and short writes. Returns 0 or -1 (errno set). */
int write_all(int fd, const char *buf, size_t len);
/* Reads a small file into `buf` (NUL-terminated). Returns bytes read or -1. */
ssize_t read_small_file(const char *path, char *buf, size_t cap);
/* Appends `s` as a JSON string literal (with quotes) to `out`; returns the new length. */
size_t json_quote(char *out, size_t cap, size_t len, const char *s);
/* The message of the last error-level entry of a runc JSON log, or an empty string. */
void runc_log_error(const char *path, char *msg, size_t cap);
/* Writes `data` to `path` atomically: temp file, rename. No fsync: the record must survive the
 * agent being killed, which rename gives; after a power cut no container survives either, and
 * the agent then records that the exit was lost. It sits on the exit path of every container. */
int write_file_atomic(const char *path, const char *data, size_t len);
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
