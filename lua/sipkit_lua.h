/* sipkit_lua.h - what the Lua binding (lua/lsipkit.c) offers to C code that
 * does not include Lua's headers: the `sipkit run` command and hosts that
 * embed Lua themselves.
 *
 * The runner calls sipkit_lua_run(); a host with its own lua_State calls
 * luaopen_sipkit() (or lets `require "sipkit"` find build/lua/sipkit.so).
 */
#ifndef SIPKIT_LUA_H
#define SIPKIT_LUA_H

#if defined(__GNUC__)
#define SIPKIT_LUA_API __attribute__((visibility("default")))
#else
#define SIPKIT_LUA_API
#endif

struct lua_State;
struct sipkit_rt;
struct sipkit_rt_config;

/* Called for each runtime the binding creates (sipkit.run creates one per
 * run) just after sipkit_rt_new and just before sipkit_rt_free, so the
 * runner can attach traces and captures (sipkit_rt_set_trace) without
 * knowing Lua.  configure (may be NULL) is called just before
 * sipkit_rt_new with the configuration the binding made (defaults, then
 * what the script asked for), so the runner's options (socket buffers,
 * T1, fault injection) apply to every runtime from its creation.  Any
 * member may be NULL; new members are only ever added at the end. */
typedef struct sipkit_lua_hooks {
  void (*on_rt_new)(void *data, struct sipkit_rt *rt);
  void (*on_rt_free)(void *data, struct sipkit_rt *rt);
  void *data;
  void (*configure)(void *data, struct sipkit_rt_config *cfg);
} sipkit_lua_hooks;

/* The module: the table `require "sipkit"` returns. */
SIPKIT_LUA_API int luaopen_sipkit(struct lua_State *L);

/* Run the script at path as the main task of sipkit.run, with the
 * arguments args[0..nargs) as `arg[1..]` and as the chunk's `...` (the
 * layout lua5.4 uses).  Returns the exit status: 0 when the script
 * returned, 1 after printing a Lua error with its traceback to stderr, 2
 * when the script cannot be read.  hooks may be NULL. */
SIPKIT_LUA_API int sipkit_lua_run(const char *path, int nargs, char **args,
                                  const sipkit_lua_hooks *hooks);

/* As sipkit_lua_run, but the main task is the function that
 * require(module) returns (an embedded module such as "sipkit.load"),
 * called with args[0..nargs); arg[0] is still path, which must be
 * readable.  When that function returns an integer, it is the exit
 * status (0 otherwise). */
SIPKIT_LUA_API int sipkit_lua_run_module(const char *module, const char *path,
                                         int nargs, char **args,
                                         const sipkit_lua_hooks *hooks);

#endif /* SIPKIT_LUA_H */
