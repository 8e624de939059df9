/* main.c - the sipkit program: option handling and subcommand dispatch.
 *
 *   sipkit --help | --version
 *   sipkit COMMAND [OPTIONS] [ARGS]
 *
 * Each subcommand lives in its own file (cmd_parse.c, ...) and is one row
 * of the table below; adding `run`, `load` or `ladder` means adding a row.
 */
#include <stdio.h>
#include <string.h>

#include "sipkit.h"
#include "cli.h"

typedef struct cli_command {
  const char *name;
  const char *args;    /* argument synopsis for the usage text */
  const char *summary; /* one line */
  int (*run)(int argc, char **argv);
} cli_command;

static const cli_command commands[] = {
    {"parse", "[--stream] [--lenient-lf] [--json] FILE...",
     "parse SIP messages and report ok or the first error", cli_cmd_parse},
    {"run", "[OPTIONS] SCRIPT.lua [ARGS...]",
     "run a Lua call-flow script (require \"sipkit\")", cli_cmd_run},
    {"ladder", "[--html FILE] [--no-color] FILE.pcap",
     "draw ladder diagrams of the SIP calls in a capture", cli_cmd_ladder},
    {"load", "SCRIPT.lua --rate R --calls N [OPTIONS] [-- ARGS...]",
     "generate load: run a script's call flow at a rate, report statistics", cli_cmd_load},
};

#define NUM_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
  size_t i;
  fprintf(out,
          "usage: " CLI_PROG " COMMAND [OPTIONS] [ARGS]\n"
          "       " CLI_PROG " --help | --version\n"
          "\n"
          "sipkit " SIPKIT_VERSION " - grammar-driven SIP toolkit\n"
          "\n"
          "commands:\n");
  for (i = 0; i < NUM_COMMANDS; i++)
    fprintf(out, "  %-7s %s\n          %s\n", commands[i].name,
            commands[i].args, commands[i].summary);
  fprintf(out,
          "\n"
          "Run '" CLI_PROG " COMMAND --help' for the options of a command.\n"
          "Exit status: 0 all inputs accepted, 1 an input was rejected,\n"
          "2 usage or I/O error.\n");
}

/* Flush stdout and turn a write error (full disk, closed pipe) into the
 * I/O exit status instead of a silent success. */
static int finish(int status) {
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, CLI_PROG ": error writing to standard output\n");
    return CLI_EXIT_USAGE;
  }
  return status;
}

int main(int argc, char **argv) {
  const char *cmd;
  size_t i;

  if (argc < 2) {
    usage(stderr);
    return CLI_EXIT_USAGE;
  }
  cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
      strcmp(cmd, "help") == 0) {
    usage(stdout);
    return finish(CLI_EXIT_OK);
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf(CLI_PROG " " SIPKIT_VERSION "\n");
    return finish(CLI_EXIT_OK);
  }
  for (i = 0; i < NUM_COMMANDS; i++)
    if (strcmp(cmd, commands[i].name) == 0)
      return finish(commands[i].run(argc - 2, argv + 2));

  if (cmd[0] == '-')
    fprintf(stderr, CLI_PROG ": unknown option '%s'\n", cmd);
  else
    fprintf(stderr, CLI_PROG ": unknown command '%s'\n", cmd);
  fprintf(stderr, "Try '" CLI_PROG " --help'.\n");
  return CLI_EXIT_USAGE;
}
