// Started by child_process_test: starts children the way the tests do, tells
// their pids on stdout ("pid paysim 123"), then ends as told:
//   return     normally: the owners' destructors stop them
//   abort      std::abort() (as a failed assert or a sanitizer does)
//   terminate  an uncaught exception: std::terminate(), no destructors
//   exit       std::exit() without destroying them
//   sigkill    SIGKILL to itself: no code of this process runs any more
// A shell with a child of its own stands for node and its browser; it is not
// started for `sigkill`, where only the kernel's PDEATHSIG acts and reaches
// direct children only.
#include "tests/support/child_process.hpp"
#include "tests/support/paysim_for_tests.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

namespace {

using namespace payengine::testing;

/// "pid paysim 123": the children's own output (their stderr is ours) is
/// mixed in.
void tell(const char* name, pid_t pid) {
  ::dprintf(STDOUT_FILENO, "pid %s %d\n", name, static_cast<int>(pid));
}

/// A shell that starts `sleep` in the background and waits for it: the
/// shell is our child, `sleep` our grandchild. Returns both pids.
std::pair<pid_t, pid_t> start_shell_with_child() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  const pid_t shell = spawn_child({"/bin/sh", "-c", "sleep 600 & echo $!; wait"}, environment_with({}),
                                  {-1, fds[1], -1});
  ::close(fds[1]);
  std::string line;
  char c = 0;
  while (::read(fds[0], &c, 1) == 1 && c != '\n')
    line += c;
  ::close(fds[0]); // only the first line: sleep holds the write end as long as it lives
  return {shell, static_cast<pid_t>(std::stol(line))};
}

} // namespace

int main(int argc, char** argv) {
  const std::string how = argc > 1 ? argv[1] : "";
  const rlimit no_core{0, 0}; // an abort here is the point, not a bug to dump
  ::setrlimit(RLIMIT_CORE, &no_core);
  auto sim = start_paysim();
  tell("paysim", sim->pid());
  pid_t shell = -1;
  if (how != "sigkill") {
    auto [sh, grandchild] = start_shell_with_child();
    shell = sh;
    tell("shell", shell);
    tell("grandchild", grandchild);
  }
  if (how == "abort")
    std::abort();
  if (how == "terminate")
    throw std::runtime_error("nobody catches this");
  if (how == "exit")
    std::exit(0);
  if (how == "sigkill")
    ::raise(SIGKILL);
  if (how != "return")
    return 2;
  kill_child(shell); // the shell's owner here; paysim's is its destructor
  return 0;
}
