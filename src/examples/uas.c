/* uas.c - a user-agent server on sipkit's C API: answers INVITE with 180
 * then 200, takes ACK and INFO, and lets the core answer BYE (200) and
 * OPTIONS.  Usage: uas [bind]   (default 127.0.0.1:5060; port 0 picks
 * one).  Prints "listening on ADDR" once bound; runs until killed. */
#include <stdio.h>
#include <string.h>

#include <sipkit_rt.h>

static const char sdp[] = "v=0\r\n"
                          "o=- 1 1 IN IP4 127.0.0.1\r\n"
                          "s=-\r\n"
                          "c=IN IP4 127.0.0.1\r\n"
                          "t=0 0\r\n"
                          "m=audio 4000 RTP/AVP 0\r\n";

static int on_request(void *data, sipkit_ua *ua, sipkit_srv *srv, sipkit_dlg *dlg,
                      const sipkit_msg *msg, const char *buf, size_t len) {
  (void)data, (void)ua, (void)buf, (void)len;
  if (msg->method == SIPKIT_METHOD_INVITE && !dlg) {
    sipkit_resp_opts answer = {.content_type = "application/sdp", .body = sdp,
                               .body_len = sizeof sdp - 1};
    sipkit_srv_respond(srv, 180, NULL, NULL);
    sipkit_srv_respond(srv, 200, &answer, NULL);
    return 1;
  }
  if (msg->method == SIPKIT_METHOD_INFO && dlg) {
    sipkit_srv_respond(srv, 200, NULL, NULL);
    return 1;
  }
  return 0; /* BYE, OPTIONS, the rest: the core answers */
}

static void on_ack(void *data, sipkit_ua *ua, sipkit_dlg *dlg, const sipkit_msg *msg,
                   const char *buf, size_t len) {
  (void)data, (void)ua, (void)msg, (void)buf, (void)len;
  printf("call %s confirmed\n", sipkit_dlg_call_id(dlg));
  fflush(stdout);
}

static void on_dialog_end(void *data, sipkit_ua *ua, sipkit_dlg *dlg, int why) {
  (void)data, (void)ua;
  printf("call %s ended (%d)\n", sipkit_dlg_call_id(dlg), why);
  fflush(stdout);
}

int main(int argc, char **argv) {
  sipkit_rt *rt;
  sipkit_ua *ua;
  int sys_err = 0;
  sipkit_ua_config cfg = {.bind = argc > 1 ? argv[1] : "127.0.0.1:5060", .user = "uas"};
  sipkit_ua_handlers h = {.on_request = on_request, .on_ack = on_ack,
                          .on_dialog_end = on_dialog_end};
  if (sipkit_rt_new(&rt, NULL, NULL) != SIPKIT_EOK)
    return 1;
  int rc = sipkit_ua_open(rt, &cfg, &h, NULL, &ua, &sys_err);
  if (rc != SIPKIT_EOK) {
    fprintf(stderr, "uas: cannot bind %s: %s (%d)\n", cfg.bind, sipkit_strerror(rc), sys_err);
    sipkit_rt_free(rt);
    return 1;
  }
  printf("listening on %s\n", sipkit_ua_addr(ua));
  fflush(stdout);
  sipkit_rt_run(rt, SIPKIT_RT_RUN_DEFAULT);
  sipkit_rt_free(rt);
  return 0;
}
