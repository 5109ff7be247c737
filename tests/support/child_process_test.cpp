// A test process that dies leaves no process behind: not paysim, not a shell,
// not the shell's own child, and none of them holds the test's output (which
// would hang CTest). child_process_helper starts them through the harness and
// dies in each way a test dies; this test watches from outside.
#include "tests/support/child_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#ifndef CHILD_PROCESS_HELPER
#error "CHILD_PROCESS_HELPER must point at the child_process_helper executable"
#endif

namespace payengine {
namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto deadline_after = 10s; // generous; it takes well under a second

struct helper_end {
  std::optional<int> status;         // the helper's wait status
  std::map<std::string, pid_t> pids; // what it started, by name
  bool output_closed = false;        // nobody holds its stdout/stderr any more
};

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

int remaining_ms(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

class child_process_test : public ::testing::Test {
protected:
  // Orphans of the helper become our children, so they are reaped here: a
  // killed process that nobody reaps is a zombie, and kill(pid, 0) still
  // finds a zombie.
  static void SetUpTestSuite() { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

  ~child_process_test() override {
    // Whatever a failed run left behind must not outlive this test either.
    for (const auto& [name, pid] : end_.pids)
      if (!gone(pid))
        ::kill(pid, SIGKILL);
    if (helper_ > 0)
      testing::kill_child(helper_);
    reap_orphans(clock_type::now() + 2s);
  }

  /// Runs the helper with `how`; reads what it tells until its output ends.
  helper_end run_helper(const std::string& how, clock_type::time_point deadline) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    helper_ = testing::spawn_child({CHILD_PROCESS_HELPER, how}, testing::environment_with({}),
                                   {-1, fds[1], fds[1]});
    ::close(fds[1]);
    std::string text;
    pollfd out{fds[0], POLLIN, 0};
    while (::poll(&out, 1, remaining_ms(deadline)) == 1) {
      char buffer[512];
      auto n = ::read(fds[0], buffer, sizeof buffer);
      if (n <= 0) {
        end_.output_closed = n == 0;
        break;
      }
      text.append(buffer, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    std::istringstream lines{text};
    std::string tag;
    std::string name;
    long pid = 0;
    for (std::string line; std::getline(lines, line);)
      if (std::istringstream{line} >> tag >> name >> pid && tag == "pid" && pid > 0)
        end_.pids[name] = static_cast<pid_t>(pid);
    end_.status = testing::wait_child(helper_, std::chrono::milliseconds{remaining_ms(deadline)});
    if (end_.status)
      helper_ = -1;
    return end_;
  }

  /// Until every one of `pids` is gone (reaping them as they become ours), or the deadline.
  static bool all_gone(const std::map<std::string, pid_t>& pids, clock_type::time_point deadline) {
    for (;;) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      bool all = true;
      for (const auto& entry : pids)
        all = all && gone(entry.second);
      if (all || clock_type::now() >= deadline)
        return all;
      ::poll(nullptr, 0, 2);
    }
  }

  static void reap_orphans(clock_type::time_point deadline) {
    while (clock_type::now() < deadline && ::waitpid(-1, nullptr, WNOHANG) >= 0)
      ::poll(nullptr, 0, 2);
  }

  static std::string alive(const std::map<std::string, pid_t>& pids) {
    std::string out;
    for (const auto& [name, pid] : pids)
      if (!gone(pid))
        out += name + " " + std::to_string(pid) + " is alive; ";
    return out;
  }

  /// Runs the helper with `how` and checks that everything it started died with it.
  void expect_nothing_survives(const std::string& how, const std::vector<std::string>& started) {
    const auto deadline = clock_type::now() + deadline_after;
    auto end = run_helper(how, deadline);
    ASSERT_TRUE(end.status) << how << ": the helper did not end";
    for (const auto& name : started)
      EXPECT_TRUE(end.pids.count(name)) << how << ": the helper did not start " << name;
    EXPECT_TRUE(all_gone(end.pids, deadline)) << how << ": " << alive(end.pids);
    EXPECT_TRUE(end.output_closed) << how << ": something still holds the test's output";
  }

  pid_t helper_ = -1;
  helper_end end_;
};

TEST_F(child_process_test, an_abort_takes_every_child_and_grandchild_with_it) {
  ASSERT_NO_FATAL_FAILURE(expect_nothing_survives("abort", {"paysim", "shell", "grandchild"}));
  EXPECT_TRUE(WIFSIGNALED(*end_.status) && WTERMSIG(*end_.status) == SIGABRT) << *end_.status;
}

TEST_F(child_process_test, an_uncaught_exception_takes_every_child_and_grandchild_with_it) {
  ASSERT_NO_FATAL_FAILURE(expect_nothing_survives("terminate", {"paysim", "shell", "grandchild"}));
  EXPECT_TRUE(WIFSIGNALED(*end_.status) && WTERMSIG(*end_.status) == SIGABRT) << *end_.status;
}

TEST_F(child_process_test, exit_without_destructors_takes_every_child_and_grandchild_with_it) {
  ASSERT_NO_FATAL_FAILURE(expect_nothing_survives("exit", {"paysim", "shell", "grandchild"}));
  EXPECT_TRUE(WIFEXITED(*end_.status) && WEXITSTATUS(*end_.status) == 0) << *end_.status;
}

TEST_F(child_process_test, sigkill_of_the_test_still_kills_its_children) {
  // Nothing of the test runs: the kernel's PR_SET_PDEATHSIG alone.
  ASSERT_NO_FATAL_FAILURE(expect_nothing_survives("sigkill", {"paysim"}));
  EXPECT_TRUE(WIFSIGNALED(*end_.status) && WTERMSIG(*end_.status) == SIGKILL) << *end_.status;
}

TEST_F(child_process_test, owners_stop_their_children_when_the_test_ends_normally) {
  ASSERT_NO_FATAL_FAILURE(expect_nothing_survives("return", {"paysim", "shell", "grandchild"}));
  EXPECT_TRUE(WIFEXITED(*end_.status) && WEXITSTATUS(*end_.status) == 0) << *end_.status;
}

} // namespace
} // namespace payengine
