/* replay.c - standalone driver: runs LLVMFuzzerTestOneInput on every file
 * named on the command line, recursing into directories (dot files are
 * skipped), without libFuzzer.  Built with gcc -fsanitize=address,undefined
 * -fno-sanitize-recover=all so `make fuzz-replay` replays every seed and
 * regression under the sanitizers.  Each input is read into an exact-size
 * heap buffer (no NUL after it), so ASan sees any read past the end.
 *
 * Exit status: 0 when every input ran, 1 when a path could not be read or
 * no input was found at all (a typo must not pass silently).  A broken
 * invariant traps and a sanitizer report aborts, so those fail too. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long n_files, n_bytes;
static int io_errors;

static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); io_errors = 1; return; }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) { free(buf); buf = NULL; }
      else buf = nb;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (!buf || err) { fprintf(stderr, "%s: read error\n", path); free(buf); io_errors = 1; return; }
  /* exact-size copy: nothing readable past len */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) { free(buf); io_errors = 1; return; }
  memcpy(exact, buf, len);
  free(buf);
  if (getenv("REPLAY_VERBOSE")) fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  n_files++;
  n_bytes += len;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) { perror(path); io_errors = 1; return; }
  if (!S_ISDIR(st.st_mode)) { run_file(path); return; }
  DIR *d = opendir(path);
  if (!d) { perror(path); io_errors = 1; return; }
  char **names = NULL;
  size_t nn = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    if (nn == cap) {
      char **nv = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
      if (!nv) break;
      names = nv;
    }
    size_t l = strlen(path) + strlen(de->d_name) + 2;
    names[nn] = malloc(l);
    if (!names[nn]) break;
    snprintf(names[nn], l, "%s/%s", path, de->d_name);
    nn++;
  }
  closedir(d);
  if (nn) qsort(names, nn, sizeof *names, by_name); /* stable order for bisecting */
  for (size_t i = 0; i < nn; i++) {
    run_path(names[i]);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) run_path(argv[i]);
  fprintf(stderr, "%s: %lu inputs, %lu bytes replayed\n", argv[0], n_files, n_bytes);
  if (n_files == 0) { fprintf(stderr, "%s: no inputs found\n", argv[0]); return 1; }
  return io_errors;
}
