/* cmd_run.c - `sipkit run [OPTIONS] SCRIPT.lua [ARGS...]`
 *
 * Runs a Lua script as the main task of sipkit.run (lua/sipkit.lua): the
 * script may call sipkit.sleep, open user agents and spawn tasks at its
 * top level, and it sees `arg` and `...` as under lua5.4.  Lua itself lives
 * in lua/lsipkit.c (sipkit_lua_run); this file only handles options so the
 * CLI never includes a Lua header.
 *
 * Exit status: 0 when the script returned, 1 after a Lua error (message
 * and traceback on stderr), 2 for usage errors and an unreadable script.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sipkit_lua.h"

static void run_usage(FILE *out) {
  fprintf(out,
          "usage: " CLI_PROG " run [OPTIONS] SCRIPT.lua [ARGS...]\n"
          "\n"
          "Run a Lua 5.4 call-flow script with the sipkit module preloaded\n"
          "(local sipkit = require \"sipkit\").  The script is the main task of\n"
          "sipkit.run: it may call sipkit.sleep, sipkit.spawn and open user\n"
          "agents (sipkit.ua) at its top level.  ARGS are the script's `arg[1..]`\n"
          "and its `...`; arg[0] is SCRIPT.lua, as with lua5.4.  The run ends\n"
          "when the script returns; tasks it spawned that are still waiting\n"
          "are dropped and user agents are closed.\n"
          "\n"
          "options:\n"
          "  -h, --help   show this help\n"
          "  --           end of options (for a script whose name starts with '-')\n"
          "\n"
          "The same module works from stock lua5.4: `make install` puts\n"
          "sipkit.so in PREFIX/lib/lua/5.4/, or set\n"
          "LUA_CPATH='build/lua/?.so;;' in the source tree.\n"
          "\n"
          "Exit status: 0 the script returned (or called os.exit(0)), 1 a Lua\n"
          "error (message and traceback on stderr), 2 usage error or a script\n"
          "that cannot be read.\n");
}

int cli_cmd_run(int argc, char **argv) {
  int i = 0;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      run_usage(stdout);
      return CLI_EXIT_OK;
    }
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, CLI_PROG " run: unknown option '%s'\n", a);
      fprintf(stderr, "Try '" CLI_PROG " run --help'.\n");
      return CLI_EXIT_USAGE;
    }
    break;
  }
  if (i >= argc) {
    fprintf(stderr, CLI_PROG " run: no script given\n");
    fprintf(stderr, "Try '" CLI_PROG " run --help'.\n");
    return CLI_EXIT_USAGE;
  }
  fflush(stdout);
  return sipkit_lua_run(argv[i], argc - i - 1, argv + i + 1, NULL);
}
