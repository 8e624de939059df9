/* file.c - read a whole input file (or stdin) into memory, as bytes.
 *
 * Regular files get a buffer of exactly their size; pipes and other
 * unsized inputs grow by doubling.  Either way the total is capped at
 * CLI_MAX_FILE_SIZE so that no input can exhaust memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void report(const char *path, const char *what) {
  fprintf(stderr, CLI_PROG ": %s: %s\n", path, what);
}

static void too_large(const char *path) {
  fprintf(stderr, CLI_PROG ": %s: file too large (limit %u MiB)\n", path,
          CLI_MAX_FILE_SIZE / (1024u * 1024u));
}

void cli_file_free(cli_file *f) {
  free(f->data);
  f->data = NULL;
  f->len = 0;
}

int cli_file_read(cli_file *f, const char *path) {
  int is_stdin = strcmp(path, "-") == 0;
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  size_t cap = 4096, len = 0;
  char *data;

  f->data = NULL;
  f->len = 0;
  if (fd < 0) {
    report(path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0) {
    report(path, strerror(errno));
    goto fail_fd;
  }
  if (S_ISDIR(st.st_mode)) {
    report(path, strerror(EISDIR));
    goto fail_fd;
  }
  if (S_ISREG(st.st_mode)) {
    if ((uintmax_t)st.st_size > CLI_MAX_FILE_SIZE) {
      too_large(path);
      goto fail_fd;
    }
    /* +1 so that a file which grew since fstat is noticed by the loop
     * below without an extra allocation; at least 1 for empty files. */
    cap = (size_t)st.st_size + 1;
  }
  data = malloc(cap);
  if (data == NULL) {
    report(path, strerror(ENOMEM));
    goto fail_fd;
  }
  for (;;) {
    ssize_t n;
    if (len == cap) {
      size_t ncap = cap * 2;
      char *p;
      if (cap > CLI_MAX_FILE_SIZE) {
        too_large(path);
        goto fail_data;
      }
      if (ncap > (size_t)CLI_MAX_FILE_SIZE + 1)
        ncap = (size_t)CLI_MAX_FILE_SIZE + 1;
      p = realloc(data, ncap);
      if (p == NULL) {
        report(path, strerror(ENOMEM));
        goto fail_data;
      }
      data = p;
      cap = ncap;
    }
    n = read(fd, data + len, cap - len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      report(path, strerror(errno));
      goto fail_data;
    }
    if (n == 0)
      break;
    len += (size_t)n;
  }
  if (len > CLI_MAX_FILE_SIZE) {
    too_large(path);
    goto fail_data;
  }
  if (!is_stdin)
    close(fd);
  f->data = data;
  f->len = len;
  return 0;

fail_data:
  free(data);
fail_fd:
  if (!is_stdin)
    close(fd);
  return -1;
}
