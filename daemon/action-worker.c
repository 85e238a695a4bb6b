/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action-worker.h"
#include "child-watch.h"
#include "cleanup.h"
#include "manager.h"

/* Below the 64 KiB pipe buffer: the child never blocks on a parent that reads only after it exited. */
#define WORKER_OUTPUT_MAX ((size_t)60 * 1024)

struct worker_state {
        pid_t pid;
        int pipe_fd;
        sd_event_source *child_source;
};

void worker_detail_item(struct worker_result *r, const char *format, ...)
{
        va_list ap;

        if (ftell(r->detail) > 0)
                fputs("; ", r->detail);
        va_start(ap, format);
        vfprintf(r->detail, format, ap);
        va_end(ap);
}

static _Noreturn void worker_child(struct action_run *run, action_worker_fn fn, pid_t daemon_pid, int fd)
{
        _cleanup_free_ char *text = NULL;
        struct worker_result r = { .outcome = ACTION_OUTCOME_FAILED };
        size_t len = 0;
        sigset_t none;
        char header[64];
        int n;

        /* sd-event blocked these in the daemon; the child must die of SIGTERM/SIGKILL like anything else. */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)signal(SIGTERM, SIG_DFL);

        r.detail = open_memstream(&text, &len);
        if (!r.detail)
                _exit(EXIT_FAILURE);
        fn(run, daemon_pid, &r);
        if (fclose(r.detail) != 0)
                _exit(EXIT_FAILURE);

        n = snprintf(header, sizeof(header), "%d %d\n", (int)r.outcome, r.error);
        if (len > WORKER_OUTPUT_MAX - (size_t)n) {
                len = WORKER_OUTPUT_MAX - (size_t)n - 4;
                memcpy(text + len, "...", 4);
                len += 3;
        }
        if (write(fd, header, (size_t)n) != n || (len > 0 && write(fd, text, len) != (ssize_t)len))
                _exit(EXIT_FAILURE);
        _exit(EXIT_SUCCESS);
}

static void worker_finish_from_output(struct action_run *run, struct worker_state *st, const siginfo_t *si)
{
        _cleanup_free_ char *buf = malloc(WORKER_OUTPUT_MAX + 1);
        size_t len = 0;
        int outcome, error, consumed = 0;

        if (!buf) {
                action_run_finish(run, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory reading the worker's result");
                return;
        }
        while (len < WORKER_OUTPUT_MAX) {
                ssize_t n = read(st->pipe_fd, buf + len, WORKER_OUTPUT_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';

        if (si->si_code != CLD_EXITED) {
                /* E.g. SIGBUS from touching the isolated device, or our own SIGKILL on cancel. */
                action_run_finish(run, ACTION_OUTCOME_FAILED, -EINTR, "worker killed by signal %s before it finished",
                                  sigabbrev_np(si->si_status) ?: "unknown");
                return;
        }
        if (si->si_status != 0 || sscanf(buf, "%d %d\n%n", &outcome, &error, &consumed) < 2 ||
            outcome <= ACTION_OUTCOME_PENDING || outcome >= _ACTION_OUTCOME_MAX) {
                action_run_finish(run, ACTION_OUTCOME_FAILED, -EIO, "worker exited with status %d without a result",
                                  si->si_status);
                return;
        }
        action_run_finish(run, (enum action_outcome)outcome, error, "%s", buf + consumed);
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        struct action_run *run = userdata;
        struct worker_state *st = run->data;

        st->pid = 0;
        worker_finish_from_output(run, st, si);
        return 0;
}

int action_worker_start(struct action_run *run, action_worker_fn fn)
{
        _cleanup_close_ int rfd = -1, wfd = -1;
        struct worker_state *st;
        pid_t daemon_pid = getpid(), pid;
        int p[2], k;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        rfd = p[0], wfd = p[1];
        if (fcntl(rfd, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        st->pipe_fd = -1;
        run->data = st;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                closep(&rfd);
                worker_child(run, fn, daemon_pid, wfd);
        }
        st->pid = pid;

        k = child_watch_add(run->manager->event, &st->child_source, pid, on_worker_exit, run);
        if (k < 0)
                goto kill_child;
        (void)sd_event_source_set_description(st->child_source, "action-worker");
        st->pipe_fd = TAKE_FD(rfd);
        return 0;

kill_child:
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        st->pid = 0;
        return k;
}

void action_worker_cancel(struct action_run *run)
{
        struct worker_state *st = run->data;

        /* The exit handler still runs and finishes the run as killed. */
        if (st && st->pid > 0)
                (void)kill(st->pid, SIGKILL);
}

void action_worker_free_data(struct action_run *run)
{
        struct worker_state *st = run->data;

        if (!st)
                return;
        if (st->pid > 0) {
                /* Freed while running (daemon stopping): reap it if it died at once, never wait on a D-state child. */
                (void)kill(st->pid, SIGKILL);
                (void)waitpid(st->pid, NULL, WNOHANG);
        }
        st->child_source = sd_event_source_disable_unref(st->child_source);
        closep(&st->pipe_fd);
        free(st);
        run->data = NULL;
}
