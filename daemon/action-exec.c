/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "exec": run the policy's operator script with argv = { path } and
 * the documented environment (exec-env.h). No shell, nothing interpolated.
 * The child gets its own process group, so a timeout can take down whatever
 * it started: SIGTERM to the group, SIGKILL after a grace period. It is
 * watched through a pidfd, and its stdout/stderr come back through pipes
 * into the event loop, logged line by line with the event id, so the loop
 * never waits on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "action.h"
#include "child-watch.h"
#include "cleanup.h"
#include "exec-env.h"
#include "log.h"
#include "manager.h"
#include "strv.h"

#define EXEC_KILL_GRACE_USEC (5ULL * 1000000ULL)
#define EXEC_LINE_MAX 4096
/*
 * Lines logged per stream and run. journald rate-limits per service: a
 * chatty script must not use up the budget that the next isolation message
 * needs. What is over the limit is counted and said once.
 */
#define EXEC_OUTPUT_LINES_MAX 200u

struct exec_output {
        const char *name;               /* "stdout" / "stderr" */
        int fd;
        sd_event_source *source;
        size_t len;
        char buf[EXEC_LINE_MAX];
        unsigned n_logged;
        unsigned long n_dropped;
};

struct exec_state {
        pid_t pid;
        sd_event_source *child_source;  /* owns the pidfd */
        sd_event_source *kill_timer;
        struct exec_output out, err;
};

static void output_emit(struct action_run *run, struct exec_output *o, const char *line, size_t len)
{
        if (o->n_logged >= EXEC_OUTPUT_LINES_MAX) {
                o->n_dropped++;
                return;
        }
        o->n_logged++;
        action_run_log(run, LOG_INFO, NULL, "%s: %.*s", o->name, (int)len, line);
}

static void output_report_dropped(struct action_run *run, struct exec_output *o)
{
        if (o->n_dropped > 0)
                action_run_log(run, LOG_NOTICE, NULL, "%s: %lu more line(s) not logged (at most %u per stream)",
                               o->name, o->n_dropped, EXEC_OUTPUT_LINES_MAX);
}

/* Log complete lines; a line longer than the buffer is logged in pieces rather than dropped. */
static void output_flush_lines(struct action_run *run, struct exec_output *o, bool final)
{
        size_t start = 0;

        for (size_t i = 0; i < o->len; i++)
                if (o->buf[i] == '\n') {
                        output_emit(run, o, o->buf + start, i - start);
                        start = i + 1;
                }
        if (start < o->len && (final || (start == 0 && o->len == sizeof(o->buf)))) {
                output_emit(run, o, o->buf + start, o->len - start);
                start = o->len;
        }
        memmove(o->buf, o->buf + start, o->len - start);
        o->len -= start;
}

static void output_close(struct exec_output *o)
{
        o->source = sd_event_source_disable_unref(o->source);
        closep(&o->fd);
        o->fd = -1;
}

/* Read what is there without blocking; 0 at EOF, 1 if more may come. */
static int output_read(struct action_run *run, struct exec_output *o)
{
        for (;;) {
                ssize_t n;

                if (o->fd < 0)
                        return 0;
                n = read(o->fd, o->buf + o->len, sizeof(o->buf) - o->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 1;
                        output_flush_lines(run, o, true);
                        output_close(o);
                        return 0;
                }
                if (n == 0) {
                        output_flush_lines(run, o, true);
                        output_close(o);
                        return 0;
                }
                o->len += (size_t)n;
                output_flush_lines(run, o, false);
        }
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct action_run *run = userdata;
        struct exec_state *st = run->data;
        struct exec_output *o = fd == st->out.fd ? &st->out : &st->err;

        (void)output_read(run, o);
        return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        struct action_run *run = userdata;
        struct exec_state *st = run->data;

        /* What the child wrote before exiting is already in the pipes: take it now, in order. */
        (void)output_read(run, &st->out);
        (void)output_read(run, &st->err);
        output_report_dropped(run, &st->out);
        output_report_dropped(run, &st->err);
        st->kill_timer = sd_event_source_disable_unref(st->kill_timer);
        st->pid = 0;

        if (si->si_code == CLD_EXITED) {
                action_run_set_exit(run, si->si_status, 0);
                if (si->si_status == 0)
                        action_run_finish(run, ACTION_OUTCOME_SUCCESS, 0, "exited with status 0");
                else
                        action_run_finish(run, ACTION_OUTCOME_FAILED, 0, "exited with status %d", si->si_status);
        } else {
                action_run_set_exit(run, -1, si->si_status);
                action_run_finish(run, ACTION_OUTCOME_FAILED, 0, "killed by signal %s",
                                  sigabbrev_np(si->si_status) ?: "unknown");
        }
        return 0;
}

static int on_kill_grace(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct action_run *run = userdata;
        struct exec_state *st = run->data;

        st->kill_timer = sd_event_source_disable_unref(st->kill_timer);
        if (st->pid > 0) {
                action_run_log(run, LOG_WARNING, NULL, "still running %llu ms after SIGTERM, sending SIGKILL",
                               (unsigned long long)(EXEC_KILL_GRACE_USEC / 1000));
                (void)kill(-st->pid, SIGKILL);
        }
        return 0;
}

static void exec_cancel(struct action_run *run)
{
        struct exec_state *st = run->data;

        if (!st || st->pid <= 0)
                return;
        /* The whole group: the script's own children must not outlive it. */
        (void)kill(-st->pid, SIGTERM);
        if (!st->kill_timer)
                (void)sd_event_add_time_relative(run->manager->event, &st->kill_timer, CLOCK_MONOTONIC,
                                                 EXEC_KILL_GRACE_USEC, 0, on_kill_grace, run);
}

static _Noreturn void exec_child(const char *path, char **env, int out_fd, int err_fd)
{
        char *argv[] = { (char *)path, NULL };
        sigset_t none;
        int null_fd;

        (void)setpgid(0, 0);
        /* The daemon blocks signals for sd-event; the script must start with a clean slate. */
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void)signal(sig, SIG_DFL);

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
                _exit(126);
        (void)close_range(3, ~0U, 0);
        (void)chdir("/");

        execve(path, argv, env);
        dprintf(STDERR_FILENO, "cannot execute %s: %s\n", path, strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

static int exec_start(struct action_run *run)
{
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_close_ int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        struct exec_state *st;
        int pipe_out[2], pipe_err[2], k;
        pid_t pid;

        if (!run->policy) {
                action_run_finish(run, ACTION_OUTCOME_SKIPPED, -ENOENT, "policy '%s' is no longer configured",
                                  run->event->plan[run->index].policy);
                return 0;
        }
        if (!run->policy->exec) {
                action_run_finish(run, ACTION_OUTCOME_FAILED, -EINVAL, "policy '%s' has no exec= script",
                                  run->policy->name);
                return 0;
        }

        k = exec_env_build(run->event, run->event->plan[run->index].policy, run->manager->state_dir, &env);
        if (k < 0)
                return k;

        if (pipe2(pipe_out, O_CLOEXEC) < 0)
                return -errno;
        out_r = pipe_out[0], out_w = pipe_out[1];
        if (pipe2(pipe_err, O_CLOEXEC) < 0)
                return -errno;
        err_r = pipe_err[0], err_w = pipe_err[1];
        if (fcntl(out_r, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_r, F_SETFL, O_NONBLOCK) < 0)
                return -errno;

        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        st->out = (struct exec_output) { .name = "stdout", .fd = -1 };
        st->err = (struct exec_output) { .name = "stderr", .fd = -1 };
        run->data = st;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                exec_child(run->policy->exec, env, out_w, err_w);

        /* Also from the parent: a kill(-pid) right after fork must not miss a child that has not run yet. */
        (void)setpgid(pid, pid);
        st->pid = pid;

        k = child_watch_add(run->manager->event, &st->child_source, pid, on_child_exit, run);
        if (k < 0) {
                (void)kill(-pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                st->pid = 0;
                return k;
        }

        st->out.fd = TAKE_FD(out_r);
        st->err.fd = TAKE_FD(err_r);
        if (sd_event_add_io(run->manager->event, &st->out.source, st->out.fd, EPOLLIN, on_output, run) < 0 ||
            sd_event_add_io(run->manager->event, &st->err.source, st->err.fd, EPOLLIN, on_output, run) < 0)
                /* Output is a convenience; the child is watched already, so carry on without it. */
                action_run_log(run, LOG_WARNING, NULL, "cannot watch the script's output, ignoring");

        action_run_log(run, LOG_INFO, NULL, "running %s (pid %d)", run->policy->exec, (int)pid);
        return 0;
}

static void exec_free_data(struct action_run *run)
{
        struct exec_state *st = run->data;

        if (!st)
                return;
        if (st->pid > 0)
                /* Freed while running (daemon shutting down): the group goes with us. */
                (void)kill(-st->pid, SIGKILL);
        st->child_source = sd_event_source_disable_unref(st->child_source);
        st->kill_timer = sd_event_source_disable_unref(st->kill_timer);
        output_close(&st->out);
        output_close(&st->err);
        free(st);
        run->data = NULL;
}

const struct action_ops action_ops_exec = {
        .type = ACTION_EXEC,
        .start = exec_start,
        .cancel = exec_cancel,
        .free_data = exec_free_data,
        .runs_in_dry_run = false,
};
