/* rt_calls.c - call loops for the make targets of tests/rt/rt.mk.
 *   rt_calls leak N           N calls between an in-process UAC and UAS,
 *                             then everything freed (run under valgrind)
 *   rt_calls example PROGRAM  start PROGRAM 127.0.0.1:0 (src/examples/uas),
 *                             place 3 calls to it, stop it by PID
 * Each call: INVITE, 180, 200, ACK, INFO, 200, BYE, 200.  Exit status 0
 * only when every call completed with exactly those answers. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sipkit_rt.h"

typedef struct run {
  sipkit_rt *rt;
  sipkit_ua *uac;
  char target[80];
  int wanted, done, failed, finished, timed_out;
  int got_180, got_invite_200, got_info_200, got_bye_200;
  sipkit_dlg *dlg;
} run;

static void start_call(run *r);

static void call_over(run *r, int ok) {
  r->done++;
  r->failed += !ok;
  if (r->done < r->wanted && !r->failed)
    start_call(r);
  else
    r->finished = 1;
}

static void on_bye(void *d, sipkit_req *q, int st, sipkit_dlg *g, const sipkit_msg *m,
                   const char *b, size_t l) {
  (void)q, (void)g, (void)m, (void)b, (void)l;
  if (st >= 200) {
    ((run *)d)->got_bye_200 += st == 200;
    call_over(d, st == 200);
  }
}

static void on_info(void *d, sipkit_req *q, int st, sipkit_dlg *g, const sipkit_msg *m,
                    const char *b, size_t l) {
  (void)q, (void)g, (void)m, (void)b, (void)l;
  run *r = d;
  if (st < 200)
    return;
  r->got_info_200 += st == 200;
  sipkit_req_opts o = {.method = "BYE"};
  if (st != 200 || sipkit_dlg_request(r->dlg, &o, on_bye, r, NULL, NULL) != SIPKIT_EOK)
    call_over(r, 0);
}

static void on_invite(void *d, sipkit_req *q, int st, sipkit_dlg *g, const sipkit_msg *m,
                      const char *b, size_t l) {
  (void)q, (void)m, (void)b, (void)l;
  run *r = d;
  r->got_180 += st == 180;
  if (st < 200)
    return;
  r->got_invite_200 += st == 200;
  r->dlg = g;
  sipkit_req_opts o = {.method = "INFO", .content_type = "application/dtmf-relay",
                       .body = "Signal=1\r\nDuration=100\r\n", .body_len = 24};
  if (st != 200 || !g || sipkit_dlg_request(g, &o, on_info, r, NULL, NULL) != SIPKIT_EOK)
    call_over(r, 0);
}

static void start_call(run *r) {
  char uri[120];
  snprintf(uri, sizeof uri, "sip:uas@%s", r->target);
  sipkit_req_opts o = {.method = "INVITE", .uri = uri};
  if (sipkit_ua_request(r->uac, &o, on_invite, r, NULL, NULL) != SIPKIT_EOK)
    call_over(r, 0);
}

/* The in-process UAS: the same answers as src/examples/uas.c. */
static int uas_request(void *d, sipkit_ua *ua, sipkit_srv *s, sipkit_dlg *g, const sipkit_msg *m,
                       const char *b, size_t l) {
  (void)d, (void)ua, (void)b, (void)l;
  if (m->method == SIPKIT_METHOD_INVITE && !g) {
    sipkit_resp_opts a = {.content_type = "application/sdp", .body = "v=0\r\n", .body_len = 5};
    sipkit_srv_respond(s, 180, NULL, NULL);
    sipkit_srv_respond(s, 200, &a, NULL);
    return 1;
  }
  if (m->method == SIPKIT_METHOD_INFO && g) {
    sipkit_srv_respond(s, 200, NULL, NULL);
    return 1;
  }
  return 0;
}

static void deadline(void *d) {
  run *r = d;
  r->timed_out = 1;
  sipkit_rt_stop(r->rt);
}

static int drive(run *r, uint64_t ms) {
  sipkit_timer *t = sipkit_rt_timer(r->rt, ms, deadline, r);
  start_call(r);
  while (!r->finished && !r->timed_out)
    sipkit_rt_run(r->rt, SIPKIT_RT_RUN_ONCE);
  if (!r->timed_out)
    sipkit_timer_cancel(t);
  int ok = !r->timed_out && r->done == r->wanted && !r->failed && r->got_180 == r->wanted &&
           r->got_invite_200 == r->wanted && r->got_info_200 == r->wanted &&
           r->got_bye_200 == r->wanted;
  printf("%d/%d calls completed (180: %d, 200: %d, INFO 200: %d, BYE 200: %d)%s\n", r->done,
         r->wanted, r->got_180, r->got_invite_200, r->got_info_200, r->got_bye_200,
         r->timed_out ? ", timed out" : "");
  return ok;
}

static int open_uac(run *r, const sipkit_rt_config *cfg) {
  sipkit_ua_config uc = {.bind = "127.0.0.1:0", .user = "uac"};
  return sipkit_rt_new(&r->rt, NULL, cfg) == SIPKIT_EOK &&
         sipkit_ua_open(r->rt, &uc, NULL, NULL, &r->uac, NULL) == SIPKIT_EOK;
}

static int leak(int n) {
  run r;
  memset(&r, 0, sizeof r);
  r.wanted = n;
  sipkit_rt_config cfg;
  sipkit_rt_config_default(&cfg);
  cfg.txn.t1 = 50; /* transactions end during the run too, not only at free */
  cfg.txn.t2 = 200;
  cfg.txn.t4 = 250;
  if (!open_uac(&r, &cfg))
    return 1;
  sipkit_ua *uas;
  sipkit_ua_config sc = {.bind = "127.0.0.1:0", .user = "uas"};
  sipkit_ua_handlers h = {.on_request = uas_request};
  if (sipkit_ua_open(r.rt, &sc, &h, NULL, &uas, NULL) != SIPKIT_EOK)
    return 1;
  snprintf(r.target, sizeof r.target, "%s", sipkit_ua_addr(uas));
  int ok = drive(&r, 120000);
  sipkit_rt_stats st;
  sipkit_rt_get_stats(r.rt, &st);
  printf("live at the end: %u transactions, %u dialogs\n", st.transactions, st.dialogs);
  ok = ok && st.dialogs == 0;
  sipkit_rt_free(r.rt);
  return ok ? 0 : 1;
}

static int count_lines(const char *text, const char *needle) {
  int n = 0;
  for (const char *at = text; (at = strstr(at, needle)) != NULL; at++)
    n++;
  return n;
}

/* Appends what PROGRAM printed to out[*len], waiting up to ms for more;
 * 0 once PROGRAM closed its end of the pipe or the wait ran out. */
static int read_more(int fd, char *out, size_t cap, size_t *len, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (*len + 1 >= cap || poll(&p, 1, ms) <= 0)
    return 0;
  ssize_t got = read(fd, out + *len, cap - 1 - *len);
  if (got <= 0)
    return 0;
  *len += (size_t)got;
  out[*len] = 0;
  return 1;
}

static int example(const char *prog) {
  int fds[2];
  if (pipe(fds) != 0)
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    execl(prog, prog, "127.0.0.1:0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  static const char ended_by_bye[] = " ended (1)"; /* SIPKIT_DLG_END_BYE_RECEIVED */
  char out[8192];
  size_t len = 0;
  out[0] = 0;
  while (!strchr(out, '\n') && read_more(fds[0], out, sizeof out, &len, 10000))
    ;
  run r;
  memset(&r, 0, sizeof r);
  r.wanted = 3;
  int ok = 0;
  if (sscanf(out, "listening on %79s", r.target) == 1) {
    sipkit_rt_config cfg;
    sipkit_rt_config_default(&cfg);
    ok = open_uac(&r, &cfg) && drive(&r, 20000);
    sipkit_rt_free(r.rt);
  }
  /* The example answers BYE before it prints "ended", so the last call's
   * line may still be on its way when the UAC has seen every 200. */
  while (count_lines(out, ended_by_bye) < r.wanted && read_more(fds[0], out, sizeof out, &len, 5000))
    ;
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  while (read_more(fds[0], out, sizeof out, &len, 0))
    ;
  close(fds[0]);
  int confirmed = count_lines(out, " confirmed");
  int ended = count_lines(out, ended_by_bye);
  printf("example printed %d confirmed, %d ended; stopped by signal %d\n", confirmed, ended,
         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  int clean_stop = WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
  return ok && confirmed == r.wanted && ended == r.wanted && clean_stop ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "leak"))
    return leak(atoi(argv[2]));
  if (argc == 3 && !strcmp(argv[1], "example"))
    return example(argv[2]);
  fprintf(stderr, "usage: rt_calls leak N | rt_calls example PROGRAM\n");
  return 2;
}
