/*
 * pier-shim --id ID --bundle DIR --runc PATH --runc-root DIR --log FILE --exit-file FILE
 *           --pid-file FILE [--foreground] [--log-max-size BYTES] [--log-max-files N]
 *
 * Protocol with the agent, on the shim's stdout (closed right after):
 *   ready <container pid>\n      the container runs (pid 0 in --foreground mode)
 *   error <message>\n            it could not be started (runc's own message); exit status 1
 *
 * The exit file, written atomically when the container has ended and its output is drained:
 *   {"exitCode": 137, "signal": 9, "finishedAt": "2026-01-02T15:04:05.123456789Z", "error": null}
 */
#define _GNU_SOURCE
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* After the container exited, how long its output pipes may stay open (a daemonized
 * grandchild that escaped the pid namespace could hold them forever). */
#define DRAIN_TIMEOUT_MS 5000
#define EARLY_MAX 64

static struct shim_options opt;
static int devnull_fd = -1;
static int stdout_open = 1;
static char runc_log_path[PATH_MAX];

static void put_line(const char *word, const char *text) {
    if (!stdout_open) return;
    char line[4200];
    int n = snprintf(line, sizeof line, "%s %s", word, text);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    /* The agent reads one line: a newline inside runc's message must not end it early. */
    for (size_t i = 0; i < len; i++) if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[len++] = '\n';
    if (write_all(STDOUT_FILENO, line, len) != 0) shim_log("telling the agent \"%s\": %s", word, strerror(errno));
    /* From here on the agent may go away at any time: stdout becomes /dev/null. */
    if (devnull_fd >= 0 && dup2(devnull_fd, STDOUT_FILENO) < 0) shim_log("dup2 /dev/null over stdout: %s", strerror(errno));
    stdout_open = 0;
}

static void write_exit_file(int code, int sig, const char *error) {
    char finished[64];
    format_timestamp(finished);
    char json[8192];
    int n = snprintf(json, sizeof json, "{\"exitCode\": %d, \"signal\": ", code);
    size_t len = (size_t)n;
    if (sig > 0) len += (size_t)snprintf(json + len, sizeof json - len, "%d", sig);
    else len += (size_t)snprintf(json + len, sizeof json - len, "null");
    len += (size_t)snprintf(json + len, sizeof json - len, ", \"finishedAt\": \"%s\", \"error\": ", finished);
    if (error && error[0]) len = json_quote(json, sizeof json - 3, len, error);
    else len += (size_t)snprintf(json + len, sizeof json - len, "null");
    len += (size_t)snprintf(json + len, sizeof json - len, "}\n");
    if (write_file_atomic(opt.exit_file, json, len) != 0)
        shim_log("writing the exit file %s: %s", opt.exit_file, strerror(errno));
}

/* Docker's exit codes for a container that could not be started. */
static int exit_code_for_start_error(const char *msg) {
    if (strstr(msg, "executable file not found") || strstr(msg, "no such file or directory")) return 127;
    if (strstr(msg, "permission denied")) return 126;
    return 128;
}

/* Before the container exists: tell the agent, record the failure, and leave. */
static void fail_before_start(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail_before_start(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shim_log("%s", msg);
    put_line("error", msg);
    if (opt.exit_file) write_exit_file(128, 0, msg);
    exit(1);
}

static void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shim_log("%s", msg);
    shim_log("usage: pier-shim --id ID --bundle DIR --runc PATH --runc-root DIR --log FILE --exit-file FILE "
             "--pid-file FILE [--foreground] [--log-max-size BYTES] [--log-max-files N]");
    put_line("error", msg);
    exit(2);
}

static long long parse_number(const char *flag, const char *value, long long min) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min) usage("%s \"%s\": expected an integer >= %lld", flag, value, min);
    return v;
}

static void parse_args(int argc, char **argv) {
    opt.log_max_files = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--foreground") == 0) { opt.foreground = 1; continue; }
        if (i + 1 >= argc) usage("%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--id") == 0) opt.id = v;
        else if (strcmp(a, "--bundle") == 0) opt.bundle = v;
        else if (strcmp(a, "--runc") == 0) opt.runc = v;
        else if (strcmp(a, "--runc-root") == 0) opt.runc_root = v;
        else if (strcmp(a, "--log") == 0) opt.log_path = v;
        else if (strcmp(a, "--exit-file") == 0) opt.exit_file = v;
        else if (strcmp(a, "--pid-file") == 0) opt.pid_file = v;
        else if (strcmp(a, "--log-max-size") == 0) opt.log_max_size = parse_number(a, v, 0);
        else if (strcmp(a, "--log-max-files") == 0) opt.log_max_files = (int)parse_number(a, v, 1);
        else usage("unknown option %s", a);
    }
    const char *missing = !opt.id ? "--id" : !opt.bundle ? "--bundle" : !opt.runc ? "--runc"
        : !opt.runc_root ? "--runc-root" : !opt.log_path ? "--log" : !opt.exit_file ? "--exit-file"
        : !opt.pid_file ? "--pid-file" : NULL;
    if (missing) usage("%s is required", missing);
    const char *paths[] = {opt.bundle, opt.runc, opt.runc_root, opt.log_path, opt.exit_file, opt.pid_file};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i][0] != '/') usage("%s: paths must be absolute", paths[i]);
    if (opt.id[0] == '\0' || opt.id[0] == '-') usage("--id \"%s\" is not a container id", opt.id);
}

/* Descriptors 0-2 must exist, or the pipes made later could land on them. */
static void ensure_std_fds(void) {
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", O_RDWR);
            if (n < 0) exit(3);
            if (n != fd) { if (dup2(n, fd) < 0) exit(3); close(n); }
        }
    }
}

/* Whatever the agent leaked to us (sockets, database files) must not stay open for the
 * container's whole life. */
static void close_inherited_fds(void) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
    DIR *d = opendir("/proc/self/fd");
    if (!d) { shim_log("cannot list /proc/self/fd to close inherited descriptors: %s", strerror(errno)); return; }
    int self = dirfd(d);
    int fds[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 1024) {
        int fd = atoi(e->d_name);
        if (fd > 2 && fd != self) fds[n++] = fd;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) close(fds[i]);
}

/* Forks and execs argv with the given stdio. Returns 0 and the pid, or an errno (exec failed). */
static int spawn(char *const argv[], int in, int out, int err, pid_t *pid_out) {
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) return errno;
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(status_pipe[0]);
        close(status_pipe[1]);
        return saved;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++) {
            if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        }
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
            int e = errno;
            (void)!write(status_pipe[1], &e, sizeof e);
            _exit(127);
        }
        execv(argv[0], argv);
        int e = errno;
        (void)!write(status_pipe[1], &e, sizeof e);
        _exit(127);
    }
    close(status_pipe[1]);
    int child_errno = 0;
    ssize_t n;
    do { n = read(status_pipe[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(status_pipe[0]);
    if (n == (ssize_t)sizeof child_errno) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        return child_errno ? child_errno : EIO;
    }
    *pid_out = pid;
    return 0;
}

static void runc_delete(void) {
    char *argv[] = {(char *)opt.runc, "--root", (char *)opt.runc_root, "delete", "--force", (char *)opt.id, NULL};
    pid_t pid;
    int e = spawn(argv, devnull_fd, STDERR_FILENO, STDERR_FILENO, &pid);
    if (e != 0) { shim_log("running %s delete: %s", opt.runc, strerror(e)); return; }
    int st;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {}
    if (r < 0) shim_log("waiting for runc delete: %s", strerror(errno));
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) shim_log("runc delete --force %s failed (status %d)", opt.id, st);
}

struct state {
    pid_t runc_pid;
    int runc_done, runc_status;
    pid_t container_pid;
    int container_done, container_status;
    int start_failed;
    char error[4096];
    struct { pid_t pid; int status; } early[EARLY_MAX];
    int early_count;
};

static void on_runc_exit(struct state *s, int status) {
    s->runc_done = 1;
    s->runc_status = status;
    if (opt.foreground) return;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char buf[64];
        ssize_t n = read_small_file(opt.pid_file, buf, sizeof buf);
        char *end = NULL;
        long pid = n > 0 ? strtol(buf, &end, 10) : 0;
        if (n <= 0 || pid <= 0 || pid > INT_MAX || (end && *end != '\0' && *end != '\n')) {
            s->start_failed = 1;
            snprintf(s->error, sizeof s->error, "runc started the container but its pid file %s is unreadable", opt.pid_file);
            put_line("error", s->error);
            return;
        }
        s->container_pid = (pid_t)pid;
        for (int i = 0; i < s->early_count; i++) {
            if (s->early[i].pid == s->container_pid) {
                s->container_done = 1;
                s->container_status = s->early[i].status;
            }
        }
        char pidtext[32];
        snprintf(pidtext, sizeof pidtext, "%d", s->container_pid);
        put_line("ready", pidtext);
        return;
    }
    s->start_failed = 1;
    runc_log_error(runc_log_path, s->error, sizeof s->error);
    if (s->error[0] == '\0') {
        if (WIFSIGNALED(status)) snprintf(s->error, sizeof s->error, "runc run was killed by signal %d", WTERMSIG(status));
        else snprintf(s->error, sizeof s->error, "runc run failed with exit status %d and logged no error", WEXITSTATUS(status));
    }
    put_line("error", s->error);
}

static void reap(struct state *s) {
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p == 0) return;
        if (p < 0) {
            if (errno == EINTR) continue;
            if (errno != ECHILD) shim_log("waitpid: %s", strerror(errno));
            return;
        }
        if (p == s->runc_pid && !s->runc_done) {
            on_runc_exit(s, st);
        } else if (s->container_pid > 0 && p == s->container_pid) {
            s->container_done = 1;
            s->container_status = st;
        } else if (!opt.foreground && s->container_pid == 0 && !s->runc_done && s->early_count < EARLY_MAX) {
            /* The container's init can be reaped before runc's own exit is seen. */
            s->early[s->early_count].pid = p;
            s->early[s->early_count].status = st;
            s->early_count++;
        }
        /* Anything else is an orphan the kernel reparented to us: reaped, nothing more. */
    }
}

struct pipe_in {
    int fd;
    struct log_stream stream;
};

static void drain(struct log_writer *w, struct pipe_in *p) {
    static char buf[65536];
    for (;;) {
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n > 0) {
            log_writer_feed(w, &p->stream, buf, (size_t)n);
            if ((size_t)n < sizeof buf) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0) shim_log("reading the container's %s: %s", p->stream.name, strerror(errno));
        log_writer_finish_stream(w, &p->stream);
        close(p->fd);
        p->fd = -1;
        return;
    }
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
    ensure_std_fds();
    parse_args(argc, argv);
    close_inherited_fds();

    /* Our own session: the agent's terminal, process group and death do not reach us. */
    if (setsid() < 0) shim_log("setsid: %s; staying in the current session", strerror(errno));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) fail_before_start("prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    if (chdir("/") != 0) shim_log("chdir /: %s", strerror(errno));
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) shim_log("ignoring SIGPIPE: %s", strerror(errno));
    /* The agent keeps its own files private (umask 077); runc makes mount points and files the
       container sees, which need the usual 022. */
    umask(022);

    devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull_fd < 0) fail_before_start("open /dev/null: %s", strerror(errno));

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGQUIT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) fail_before_start("sigprocmask: %s", strerror(errno));
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) fail_before_start("signalfd: %s", strerror(errno));

    int n = snprintf(runc_log_path, sizeof runc_log_path, "%s/runc.log", opt.bundle);
    if (n < 0 || (size_t)n >= sizeof runc_log_path) fail_before_start("bundle path too long: %s", opt.bundle);
    /* A restart reuses the bundle: stale files would be read as this run's. */
    const char *stale[] = {runc_log_path, opt.pid_file, opt.exit_file};
    for (size_t i = 0; i < 3; i++)
        if (unlink(stale[i]) != 0 && errno != ENOENT) fail_before_start("removing %s: %s", stale[i], strerror(errno));

    struct log_writer writer;
    if (log_writer_open(&writer, opt.log_path, opt.log_max_size, opt.log_max_files) != 0)
        fail_before_start("opening the log %s: %s", opt.log_path, strerror(errno));

    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) fail_before_start("pipe2: %s", strerror(errno));
    if (fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(err_pipe[0], F_SETFL, O_NONBLOCK) != 0)
        fail_before_start("fcntl O_NONBLOCK: %s", strerror(errno));

    char *runc_argv[16];
    int a = 0;
    runc_argv[a++] = (char *)opt.runc;
    runc_argv[a++] = "--root";
    runc_argv[a++] = (char *)opt.runc_root;
    runc_argv[a++] = "--log";
    runc_argv[a++] = runc_log_path;
    runc_argv[a++] = "--log-format";
    runc_argv[a++] = "json";
    runc_argv[a++] = "run";
    if (!opt.foreground) runc_argv[a++] = "--detach";
    runc_argv[a++] = "--pid-file";
    runc_argv[a++] = (char *)opt.pid_file;
    runc_argv[a++] = "--bundle";
    runc_argv[a++] = (char *)opt.bundle;
    runc_argv[a++] = (char *)opt.id;
    runc_argv[a] = NULL;

    struct state s;
    memset(&s, 0, sizeof s);
    int e = spawn(runc_argv, devnull_fd, out_pipe[1], err_pipe[1], &s.runc_pid);
    if (e != 0) fail_before_start("cannot execute runc at %s: %s", opt.runc, strerror(e));
    if (close(out_pipe[1]) != 0 || close(err_pipe[1]) != 0) shim_log("closing pipe ends: %s", strerror(errno));
    if (opt.foreground) put_line("ready", "0");

    struct pipe_in pipes[2] = {{out_pipe[0], {"stdout", {0}, 0}}, {err_pipe[0], {"stderr", {0}, 0}}};
    long long drain_deadline = -1;
    for (;;) {
        int finished = opt.foreground ? s.runc_done : (s.start_failed ? s.runc_done : s.container_done);
        if (finished && pipes[0].fd < 0 && pipes[1].fd < 0) break;
        int timeout = -1;
        if (finished) {
            if (drain_deadline < 0) drain_deadline = now_ms() + DRAIN_TIMEOUT_MS;
            long long left = drain_deadline - now_ms();
            if (left <= 0) {
                shim_log("the container's output is still open %d ms after it exited; closing it", DRAIN_TIMEOUT_MS);
                break;
            }
            timeout = (int)left;
        }
        struct pollfd fds[3];
        int nfds = 0, idx[2] = {-1, -1};
        for (int i = 0; i < 2; i++) {
            if (pipes[i].fd >= 0) {
                idx[i] = nfds;
                fds[nfds].fd = pipes[i].fd;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                nfds++;
            }
        }
        int sig_idx = nfds;
        fds[nfds].fd = sigfd;
        fds[nfds].events = POLLIN;
        fds[nfds].revents = 0;
        nfds++;
        int r = poll(fds, (nfds_t)nfds, timeout);
        if (r < 0) {
            if (errno == EINTR) continue;
            shim_log("poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (idx[i] >= 0 && fds[idx[i]].revents != 0) drain(&writer, &pipes[i]);
        }
        if (fds[sig_idx].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t got;
            while ((got = read(sigfd, &si, sizeof si)) == (ssize_t)sizeof si) {
                if (si.ssi_signo != SIGCHLD) shim_log("ignoring signal %u (the agent stops containers through runc)", si.ssi_signo);
            }
            if (got < 0 && errno != EAGAIN && errno != EINTR) shim_log("reading signalfd: %s", strerror(errno));
            reap(&s);
        }
    }
    for (int i = 0; i < 2; i++) {
        if (pipes[i].fd >= 0) {
            log_writer_finish_stream(&writer, &pipes[i].stream);
            close(pipes[i].fd);
            pipes[i].fd = -1;
        }
    }
    log_writer_close(&writer);

    /* Detached: the container is runc's to forget. Foreground: runc deleted it itself, unless
     * runc was killed, leaving the container reparented to us and still running. */
    if (!opt.foreground || (s.runc_done && WIFSIGNALED(s.runc_status))) runc_delete();

    int code = 0, sig = 0;
    const char *error = NULL;
    if (!opt.foreground) {
        if (s.start_failed) {
            code = exit_code_for_start_error(s.error);
            error = s.error;
        } else if (!s.container_done) {
            code = 255;
            error = "the shim stopped watching the container before it exited";
        } else if (WIFSIGNALED(s.container_status)) {
            sig = WTERMSIG(s.container_status);
            code = 128 + sig;
        } else {
            code = WEXITSTATUS(s.container_status);
        }
    } else if (!s.runc_done) {
        code = 255;
        error = "the shim stopped watching runc before it exited";
    } else if (WIFSIGNALED(s.runc_status)) {
        sig = WTERMSIG(s.runc_status);
        code = 128 + sig;
    } else {
        code = WEXITSTATUS(s.runc_status);
        if (code != 0) runc_log_error(runc_log_path, s.error, sizeof s.error);
        if (code != 0 && s.error[0]) {
            error = s.error;
            code = exit_code_for_start_error(s.error);
            s.start_failed = 1;
        } else if (code > 128 && code <= 128 + 64) {
            /* runc run reports a container killed by signal N as 128+N. */
            sig = code - 128;
        }
    }
    write_exit_file(code, sig, error);
    reap(&s);
    return s.start_failed ? 1 : 0;
}
