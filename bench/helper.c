/* bench-helper: the processes bench/run needs besides the shims.
 *
 *   daemon  [--fork none|double] [--pidfile PATH] [--fifo PATH]
 *           [--workers N]        a quiet fake daemon (see below)
 *   storm   N                    double-fork N short-lived orphans, exit 0
 *                                once every one of them has exited
 *   sleepers N PIDFILE           N unrelated sleeping processes
 *   floor   -- CMD...            the kill -9 floor for a process tree
 *   runonce TIMEOUT_MS -- CMD... wall time of one run of CMD
 *
 * Every timestamp is CLOCK_MONOTONIC in nanoseconds, the clock Python's
 * time.monotonic_ns() reads, so the harness can compare them with its own.
 * Built by bench/run with `cc -O2`; not part of the cargo workspace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench-helper[%d]: %s: %s\n", (int)getpid(), what, strerror(errno));
    _exit(111);
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void read_to_eof(int fd) {
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0) return;
        if (n < 0 && errno != EINTR) return;
    }
}

static void reap_all(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

/* ---- daemon ------------------------------------------------------------
 * With --fork double: launcher → fork → setsid → fork → main; the launcher
 * exits 0 once the main process has written its pidfile (like a real
 * daemon). The main process forks --workers N setsid'd workers that keep
 * the default dispositions (TERM kills them in the kernel) and pause().
 * Then it writes "ready PID NS" to the FIFO and waits in sigwaitinfo with
 * every signal blocked: no timer, no wake-up. Each signal is stamped as
 * "sig N PID NS"; TERM, INT and QUIT end it with status 0. */

static void main_process(const char *pidfile, const char *fifo, int workers, int sync_fd) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    int out = -1;
    if (fifo) {
        out = open(fifo, O_WRONLY | O_CLOEXEC);
        if (out < 0) die("open fifo");
    }
    for (int i = 0; i < workers; i++) {
        pid_t w = fork();
        if (w < 0) die("fork worker");
        if (w == 0) {
            if (out >= 0) close(out);
            if (sync_fd >= 0) close(sync_fd);
            setsid();
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            for (;;) pause();
        }
    }
    if (pidfile) {
        char tmp[4096], text[32];
        snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) die("open pidfile");
        int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
        write_all(fd, text, (size_t)len);
        close(fd);
        if (rename(tmp, pidfile) < 0) die("rename pidfile");
    }
    if (sync_fd >= 0) close(sync_fd);
    char line[96];
    if (out >= 0) {
        int len = snprintf(line, sizeof line, "ready %d %lld\n", (int)getpid(), now_ns());
        write_all(out, line, (size_t)len);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        long long t = now_ns();
        if (sig == SIGCHLD) {
            reap_all();
            continue;
        }
        if (out >= 0) {
            int len = snprintf(line, sizeof line, "sig %d %d %lld\n", sig, (int)getpid(), t);
            write_all(out, line, (size_t)len);
        }
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) _exit(0);
    }
}

static int cmd_daemon(int argc, char **argv) {
    const char *pidfile = NULL, *fifo = NULL;
    int dbl = 0, workers = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--fork") && i + 1 < argc) {
            dbl = !strcmp(argv[++i], "double");
        } else if (!strcmp(argv[i], "--pidfile") && i + 1 < argc) {
            pidfile = argv[++i];
        } else if (!strcmp(argv[i], "--fifo") && i + 1 < argc) {
            fifo = argv[++i];
        } else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "bench-helper daemon: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dbl) main_process(pidfile, fifo, workers, -1);
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) die("pipe");
    pid_t mid = fork();
    if (mid < 0) die("fork");
    if (mid == 0) {
        close(sync[0]);
        setsid();
        pid_t m = fork();
        if (m < 0) die("fork");
        if (m == 0) main_process(pidfile, fifo, workers, sync[1]);
        _exit(0);
    }
    close(sync[1]);
    read_to_eof(sync[0]); /* the main process wrote its pidfile (or died) */
    waitpid(mid, NULL, 0);
    return 0;
}

/* ---- storm ---------------------------------------------------------------
 * N times: fork a parent that forks a grandchild and exits at once; the
 * grandchild (re-parented to the nearest subreaper) exits at once too.
 * Every grandchild holds the write end of a pipe until it exits, so EOF
 * on the read end means every orphan is dead (a zombie or reaped). */

static int cmd_storm(int argc, char **argv) {
    if (argc != 1) {
        fprintf(stderr, "usage: bench-helper storm N\n");
        return 2;
    }
    int n = atoi(argv[0]);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c < 0) die("fork");
        if (c == 0) {
            pid_t g = fork();
            if (g < 0) _exit(1);
            _exit(0); /* parent and grandchild alike: short-lived */
        }
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    close(p[1]);
    read_to_eof(p[0]);
    return 0;
}

/* ---- sleepers ------------------------------------------------------------
 * N children that pause() and die with this process (PDEATHSIG), their
 * PIDs written to PIDFILE, then "ready" on stdout. EOF on stdin (or TERM)
 * → SIGKILL each child by PID (500 at a time), reap them all, exit. */

static volatile sig_atomic_t stop_sleepers;
static void on_term(int sig) {
    (void)sig;
    stop_sleepers = 1;
}

static int cmd_sleepers(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bench-helper sleepers N PIDFILE\n");
        return 2;
    }
    int n = atoi(argv[0]);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) die("calloc");
    pid_t me = getpid();
    int made = 0;
    for (; made < n; made++) {
        pid_t c = fork();
        if (c < 0) {
            fprintf(stderr, "bench-helper sleepers: fork %d of %d: %s\n", made + 1, n, strerror(errno));
            break;
        }
        if (c == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != me) _exit(0);
            for (;;) pause();
        }
        pids[made] = c;
    }
    FILE *f = fopen(argv[1], "w");
    if (f) {
        for (int i = 0; i < made; i++) fprintf(f, "%d\n", (int)pids[i]);
        fclose(f);
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready %d\n", made);
    fflush(stdout);
    char buf[64];
    while (!stop_sleepers) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR)) break;
    }
    /* In batches, so that 20,000 exits at once do not stall a shared box. */
    for (int start = 0; start < made; start += 500) {
        int end = start + 500 < made ? start + 500 : made;
        for (int i = start; i < end; i++) kill(pids[i], SIGKILL);
        for (int i = start; i < end; i++) {
            while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
    return made == n ? 0 : 1;
}

/* ---- floor ---------------------------------------------------------------
 * Become a child subreaper, start CMD (which builds a tree and daemonizes
 * into it), wait for a line on stdin, collect every descendant's PID from
 * the /proc children files, then time: SIGKILL each PID in a plain loop,
 * waitpid until ECHILD. Prints "floor COUNT NS". */

static int read_children(pid_t pid, pid_t *out, int cap, int n) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return n;
    int c;
    while (n < cap && fscanf(f, "%d", &c) == 1) out[n++] = c;
    fclose(f);
    return n;
}

static int cmd_floor(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[0], "--")) {
        fprintf(stderr, "usage: bench-helper floor -- CMD...\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("PR_SET_CHILD_SUBREAPER");
    pid_t c = fork();
    if (c < 0) die("fork");
    if (c == 0) {
        execvp(argv[1], argv + 1);
        die("exec");
    }
    char buf[64];
    if (!fgets(buf, sizeof buf, stdin)) return 1;
    reap_all(); /* the launcher and the intermediate are gone */
    enum { CAP = 200000 };
    pid_t *pids = malloc(CAP * sizeof *pids);
    if (!pids) die("malloc");
    int n = read_children(getpid(), pids, CAP, 0);
    for (int i = 0; i < n; i++) n = read_children(pids[i], pids, CAP, n);
    long long t0 = now_ns();
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
    long long t1 = now_ns();
    printf("floor %d %lld\n", n, t1 - t0);
    return 0;
}

/* ---- runonce -------------------------------------------------------------
 * fork + exec CMD, wait for it through a pidfd with a deadline (SIGKILL on
 * expiry). Prints "ns STATUS CPU_NS" (STATUS -1 if the deadline hit; CPU_NS
 * the child's own CPU time, -1 if unknown). */

static int cmd_runonce(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "--")) {
        fprintf(stderr, "usage: bench-helper runonce TIMEOUT_MS -- CMD...\n");
        return 2;
    }
    int timeout = atoi(argv[0]);
    long long t0 = now_ns();
    pid_t c = fork();
    if (c < 0) die("fork");
    if (c == 0) {
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int pfd = (int)syscall(SYS_pidfd_open, c, 0);
    int st = 0;
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int r;
        while ((r = poll(&p, 1, timeout)) < 0 && errno == EINTR) {
        }
        if (r == 0) {
            kill(c, SIGKILL);
            waitpid(c, NULL, 0);
            printf("%lld -1\n", now_ns() - t0);
            return 1;
        }
    }
    long long t1 = now_ns();
    /* The child's own CPU time, read while it is a zombie (its reaped
     * children's time, which wait4 would add, excluded). */
    long long cpu = -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)c);
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%lld", &cpu) != 1) cpu = -1;
        fclose(f);
    }
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
    }
    printf("%lld %d %lld\n", t1 - t0, st, cpu);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench-helper daemon|storm|sleepers|floor|runonce ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    argc -= 2;
    argv += 2;
    if (!strcmp(cmd, "daemon")) return cmd_daemon(argc, argv);
    if (!strcmp(cmd, "storm")) return cmd_storm(argc, argv);
    if (!strcmp(cmd, "sleepers")) return cmd_sleepers(argc, argv);
    if (!strcmp(cmd, "floor")) return cmd_floor(argc, argv);
    if (!strcmp(cmd, "runonce")) return cmd_runonce(argc, argv);
    fprintf(stderr, "bench-helper: unknown command '%s'\n", cmd);
    return 2;
}
