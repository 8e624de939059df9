/* cli.h - internal interface between the files of the sipkit program.
 *
 * Not installed and not part of the library: everything here links into
 * build/sipkit only.  Each subcommand is one cli_cmd_* function taking the
 * arguments after its name and returning the process exit status.
 */
#ifndef SIPKIT_CLI_H
#define SIPKIT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses shared by every subcommand. */
enum {
  CLI_EXIT_OK = 0,       /* every input was accepted */
  CLI_EXIT_REJECTED = 1, /* at least one input was rejected by the parser */
  CLI_EXIT_USAGE = 2     /* bad usage or an I/O error */
};

#define CLI_PROG "sipkit"

/* Largest input file the CLI reads (the parser's own message limit is far
 * smaller; this only bounds memory use). */
#define CLI_MAX_FILE_SIZE (64u * 1024u * 1024u)

/* ---------------------------------------------------------------- files */

typedef struct cli_file {
  char *data; /* malloc'd, exactly len bytes used, never NUL-terminated */
  size_t len;
} cli_file;

/* Read a whole file ("-" is stdin) as binary into f.  On failure prints
 * "sipkit: PATH: reason" to stderr and returns -1; f is then empty. */
int cli_file_read(cli_file *f, const char *path);
void cli_file_free(cli_file *f);

/* ---------------------------------------------------------------- JSON */

/* A pretty-printing JSON writer (2-space indent, the layout of Python's
 * json.dumps(indent=2)).  key is NULL inside arrays and at top level. */
#define CLI_JSON_MAX_DEPTH 32

typedef struct cli_json {
  FILE *out;
  int depth;
  uint32_t count[CLI_JSON_MAX_DEPTH]; /* children written at each level */
} cli_json;

void cli_json_init(cli_json *w, FILE *out);
void cli_json_begin_object(cli_json *w, const char *key);
void cli_json_end_object(cli_json *w);
void cli_json_begin_array(cli_json *w, const char *key);
void cli_json_end_array(cli_json *w);
/* Bytes are written as-is where they form valid UTF-8; control bytes and
 * every byte of an invalid sequence become \u00XX escapes. */
void cli_json_string(cli_json *w, const char *key, const char *s, size_t len);
void cli_json_cstring(cli_json *w, const char *key, const char *s);
void cli_json_uint(cli_json *w, const char *key, uint64_t v);
void cli_json_int(cli_json *w, const char *key, int64_t v);
void cli_json_bool(cli_json *w, const char *key, int v);
void cli_json_null(cli_json *w, const char *key);
/* Write s JSON-escaped without quotes (also used for plain text). */
void cli_json_escape(FILE *out, const char *s, size_t len);

/* The body of msg, structured by the parser its Content-Type names, as
 * members of the current JSON object (nothing for other types). */
struct sipkit_msg;
void cli_json_body(cli_json *w, const char *buf, const struct sipkit_msg *msg);

/* ---------------------------------------------------------------- commands */

int cli_cmd_parse(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);   /* cmd_run.c, Lua in lua/lsipkit.c */
int cli_cmd_ladder(int argc, char **argv); /* cmd_ladder.c */
int cli_cmd_load(int argc, char **argv);   /* cmd_load.c, driver in lua/sipkit/load.lua */

/* Option values shared by run and load (cmd_run.c): print "sipkit: OPT:
 * ..." and return -1 when s is not a decimal number <= max / a size in
 * bytes with an optional K or M suffix (at most 1G). */
int cli_parse_uint(const char *opt, const char *s, uint64_t max, uint64_t *out);
int cli_parse_bytes(const char *opt, const char *s, long *out);

/* SO_RCVBUF / SO_SNDBUF of every socket of run and load when --buffer is
 * not given: the system's default (about 208 KiB on Linux) drops
 * datagrams in the bursts of a few thousand calls a second; the kernel
 * caps the request at net.core.rmem_max / wmem_max, and a buffer holds
 * memory only while datagrams wait in it. */
#define CLI_DEFAULT_BUFFER (4L * 1024 * 1024)

/* cfg's socket buffers from --buffer: -1 (not given) CLI_DEFAULT_BUFFER,
 * 0 the system's, else that size (cmd_run.c). */
struct sipkit_rt_config;
void cli_config_buffer(long buffer, struct sipkit_rt_config *cfg);

#endif /* SIPKIT_CLI_H */
