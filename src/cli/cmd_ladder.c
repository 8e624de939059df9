/* cmd_ladder.c - `sipkit ladder [--html FILE] [--no-color] FILE.pcap`
 *
 * Reads a capture (pcap or pcapng, any of the link types sipkit_capture.h
 * reads), keeps the UDP datagrams that look like SIP, and prints one
 * ladder diagram per call (sipkit_ladder_text); --html also writes them
 * all as one self-contained HTML file.  Packets that are not SIP over UDP
 * are skipped and counted on a last line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipkit.h"
#include "sipkit_capture.h"
#include "sipkit_ladder.h"
#include "cli.h"

static void ladder_usage(FILE *out) {
  fprintf(out,
          "usage: " CLI_PROG " ladder [--html FILE] [--no-color] FILE.pcap\n"
          "\n"
          "Draw a ladder diagram of each SIP call (grouped by Call-ID) found in a\n"
          "capture of SIP over UDP (pcap or pcapng; Ethernet, Linux cooked, raw IP\n"
          "or loopback link types; IPv4 and IPv6).  Columns are addresses (IP:port),\n"
          "times are seconds since the call's first message, and each call ends\n"
          "with its outcome.  Messages that do not parse are drawn as 'malformed'.\n"
          "\n"
          "  --html FILE   also write every call to FILE as one self-contained HTML\n"
          "                page (summary table, SVG ladders, message text on click)\n"
          "  --no-color    no ANSI colours (the default when standard output is not\n"
          "                a terminal or NO_COLOR is set)\n"
          "  -h, --help    show this help\n"
          "\n"
          "Exit status: 0 the capture was read, 2 usage or I/O error (the file is\n"
          "missing or not a capture, or FILE cannot be written).\n");
}

int cli_cmd_ladder(int argc, char **argv) {
  const char *html = NULL, *path = NULL;
  int no_color = 0, i, rc, status = CLI_EXIT_OK, r;
  char err[512];
  sipkit_pcap_reader *rd;
  sipkit_pcap_stats st;
  sipkit_evlog log;
  sipkit_dgram d;
  uint64_t not_sip = 0;
  sipkit_ladder_opts opts;

  for (i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      ladder_usage(stdout);
      return CLI_EXIT_OK;
    } else if (strcmp(a, "--no-color") == 0) {
      no_color = 1;
    } else if (strcmp(a, "--html") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, CLI_PROG " ladder: option '--html' needs a file name\n");
        return CLI_EXIT_USAGE;
      }
      html = argv[++i];
    } else if (strncmp(a, "--html=", 7) == 0) {
      html = a + 7;
    } else if (strcmp(a, "--") == 0 && i + 1 < argc && path == NULL) {
      path = argv[++i];
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, CLI_PROG " ladder: unknown option '%s'\n", a);
      fprintf(stderr, "Try '" CLI_PROG " ladder --help'.\n");
      return CLI_EXIT_USAGE;
    } else if (path == NULL) {
      path = a;
    } else {
      fprintf(stderr, CLI_PROG " ladder: one capture file at a time ('%s')\n", a);
      return CLI_EXIT_USAGE;
    }
  }
  if (path == NULL) {
    fprintf(stderr, CLI_PROG " ladder: no capture file\n");
    fprintf(stderr, "Try '" CLI_PROG " ladder --help'.\n");
    return CLI_EXIT_USAGE;
  }

  err[0] = '\0';
  if (sipkit_pcap_open_read(&rd, path, err, sizeof err) != SIPKIT_EOK) {
    size_t plen = strlen(path);
    /* libpcap's message may already start with the file name */
    const char *why = strncmp(err, path, plen) == 0 && strncmp(err + plen, ": ", 2) == 0
                          ? err + plen + 2 : err;
    fprintf(stderr, CLI_PROG ": %s: %s\n", path, why);
    return CLI_EXIT_USAGE;
  }
  sipkit_evlog_init(&log);
  while ((r = sipkit_pcap_next(rd, &d, err, sizeof err)) == 1) {
    if (!sipkit_dgram_is_sip(d.bytes, d.len)) {
      not_sip++;
      continue;
    }
    if (sipkit_evlog_add(&log, &d) != SIPKIT_EOK) {
      fprintf(stderr, CLI_PROG ": %s: out of memory\n", path);
      status = CLI_EXIT_USAGE;
      break;
    }
  }
  if (r < 0) {
    /* a truncated capture: draw what was read, but say so */
    fprintf(stderr, CLI_PROG ": %s: %s\n", path, err);
    status = CLI_EXIT_USAGE;
  }
  sipkit_pcap_get_stats(rd, &st);
  sipkit_pcap_close_read(rd);

  memset(&opts, 0, sizeof opts);
  opts.width = 80;
  opts.color = !no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
  rc = sipkit_ladder_text(stdout, log.ev, log.count, &opts);
  if (rc == SIPKIT_EOK) {
    uint64_t skipped = st.packets - log.count;
    printf("%s: %llu packet%s, %zu SIP message%s", path, (unsigned long long)st.packets,
           st.packets == 1 ? "" : "s", log.count, log.count == 1 ? "" : "s");
    if (skipped > 0) {
      const char *sep = "";
      printf("; skipped %llu (", (unsigned long long)skipped);
#define CLI_SKIP(n, what)                                                            \
  if ((n) > 0) {                                                                     \
    printf("%s%llu %s", sep, (unsigned long long)(n), what);                         \
    sep = ", ";                                                                      \
  }
      CLI_SKIP(not_sip, "UDP not SIP");
      CLI_SKIP(st.not_udp, "not UDP");
      CLI_SKIP(st.not_ip, "not IP");
      CLI_SKIP(st.fragments, "IP fragments");
      CLI_SKIP(st.truncated, "truncated");
#undef CLI_SKIP
      printf(")");
    }
    printf("\n");
  } else {
    fprintf(stderr, CLI_PROG " ladder: %s\n", sipkit_strerror(rc));
    status = CLI_EXIT_USAGE;
  }

  if (html != NULL) {
    FILE *f = fopen(html, "w");
    if (f == NULL) {
      fprintf(stderr, CLI_PROG ": %s: %s\n", html, strerror(errno));
      status = CLI_EXIT_USAGE;
    } else {
      rc = sipkit_ladder_html(f, log.ev, log.count, path);
      if (fclose(f) != 0 || rc != SIPKIT_EOK) {
        fprintf(stderr, CLI_PROG ": %s: %s\n", html,
                rc != SIPKIT_EOK ? sipkit_strerror(rc) : "write error");
        status = CLI_EXIT_USAGE;
      }
    }
  }
  sipkit_evlog_free(&log);
  return status;
}
