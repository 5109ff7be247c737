#pragma once
// Every process a test starts (payengine, paysim, node, a shell) dies with
// the test. Otherwise a test that crashes leaves its children running, and
// they hold CTest's output pipe open: CTest waits for them and hangs.
//
// A child started here
//   - is killed by the kernel when this process dies in any way, even by
//     SIGKILL (PR_SET_PDEATHSIG = SIGKILL, set before exec);
//   - leads its own process group (pgid = pid), which is killed as a whole
//     (so its own children die too) when the test stops it, at exit(), on
//     std::terminate() and on a fatal signal (SIGABRT from abort() or a
//     sanitizer, SIGSEGV, ..., SIGINT, SIGTERM). Only SIGKILL of this
//     process leaves grandchildren behind; direct children die all the same.
//     A grandchild that makes its own session or group (playwright starts
//     chromium so) is out of reach: its parent has to end it.
//
// The kernel sends PDEATHSIG when the *thread* that forked exits, not when
// the process does: children are started from the main thread only (as
// GoogleTest runs tests), and spawn_child() refuses any other thread.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace payengine::testing {

/// Where a child's standard streams go: a descriptor of this process (the
/// child gets a copy as 0, 1 or 2), or -1 to share this process's own.
struct child_stdio {
  int in = -1;
  int out = -1;
  int err = -1;
};

/// Starts the program at path `argv[0]` with exactly the environment `env`
/// ("NAME=value" entries) as described above. Throws std::logic_error when
/// called off the main thread, std::runtime_error when fork fails.
pid_t spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  child_stdio stdio = {});

/// This process's environment with `overrides` (name to value) applied.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides);

/// Waits up to `timeout` for a child of spawn_child() to exit. When it has,
/// kills what is left of its process group, reaps it and returns its wait
/// status; std::nullopt when it still runs (it stays registered).
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout);

/// SIGKILL to the child's whole process group; reaps the child and returns
/// its wait status.
int kill_child(pid_t pid);

/// SIGTERM to the child, `grace` for it to exit, then SIGKILL to its group.
/// Its wait status; std::nullopt when it had to be killed.
std::optional<int> stop_child(pid_t pid, std::chrono::milliseconds grace);

struct command_result {
  int status = -1;    // as from waitpid (WIFEXITED, WEXITSTATUS, ...)
  std::string output; // its standard output
};

/// `/bin/sh -c command` as a child (above) instead of popen()/system(): its
/// standard output is captured, its standard error is this process's. Waits
/// for the output to end and the shell to exit (CTest's timeout bounds it).
command_result run_command(const std::string& command);

} // namespace payengine::testing
