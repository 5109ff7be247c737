#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace payengine::testing {
namespace {

// The children not reaped yet. Plain lock-free atomics because the fatal
// signal handler reads them; 0 marks a free slot.
constexpr size_t children_max = 256;
std::atomic<pid_t> children[children_max];
static_assert(std::atomic<pid_t>::is_always_lock_free);
// The process that started them. A fork of it (a death test, a child
// before exec) runs the same handlers but must leave them alone.
std::atomic<pid_t> owner{0};

void kill_group(pid_t pid) {
  if (::kill(-pid, SIGKILL) != 0) // its group; the child alone if it has none yet
    ::kill(pid, SIGKILL);
}

/// Async-signal-safe: called from the fatal signal handler.
void kill_all_children() {
  if (owner.load() != ::getpid())
    return;
  for (auto& slot : children)
    if (auto pid = slot.load(); pid > 0)
      kill_group(pid);
}

bool remember(pid_t pid) {
  for (auto& slot : children) {
    pid_t free = 0;
    if (slot.compare_exchange_strong(free, pid))
      return true;
  }
  return false;
}

void forget(pid_t pid) {
  for (auto& slot : children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0))
      return;
  }
}

// --- the paths on which this process dies ---------------------------------

constexpr int fatal_signals[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                 SIGQUIT, SIGINT,  SIGTERM, SIGHUP};
struct sigaction previous_actions[NSIG]; // written once, before our handlers are installed
std::terminate_handler previous_terminate = nullptr;

void on_fatal_signal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  kill_all_children();
  ::sigaction(sig, &previous_actions[sig], nullptr);
  // A sent signal (abort(), a sanitizer, kill) is sent again: it arrives
  // under the previous action as this handler returns. A fault (si_code > 0)
  // recurs by itself when the faulting instruction runs again.
  if (info->si_code <= 0)
    ::raise(sig);
  errno = saved_errno;
}

[[noreturn]] void on_terminate() {
  kill_all_children();
  if (previous_terminate)
    previous_terminate();
  std::abort();
}

void watch_this_process() {
  static std::once_flag once;
  std::call_once(once, [] {
    owner = ::getpid();
    std::atexit(kill_all_children);
    previous_terminate = std::set_terminate(on_terminate);
    for (int sig : fatal_signals) {
      ::sigaction(sig, nullptr, &previous_actions[sig]);
      const auto& before = previous_actions[sig];
      if (!(before.sa_flags & SA_SIGINFO) && before.sa_handler == SIG_IGN)
        continue; // ignored on purpose: stays ignored
      struct sigaction ours {};
      ours.sa_sigaction = on_fatal_signal;
      ours.sa_flags = SA_SIGINFO;
      sigemptyset(&ours.sa_mask);
      ::sigaction(sig, &ours, nullptr);
    }
  });
}

// --- the child, between fork and exec: async-signal-safe calls only -------

void redirect(int fd, int target) {
  if (fd < 0)
    return;
  if (fd == target) // already in place: only keep it open across exec
    ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) & ~FD_CLOEXEC);
  else
    ::dup2(fd, target);
}

[[noreturn]] void become_child(pid_t parent, child_stdio stdio, char* const argv[],
                               char* const envp[]) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before the line above: no signal would come.
  if (::getppid() != parent)
    ::_exit(126);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  redirect(stdio.in, STDIN_FILENO);
  redirect(stdio.out, STDOUT_FILENO);
  redirect(stdio.err, STDERR_FILENO);
  ::execve(argv[0], argv, envp);
  ::_exit(127);
}

std::vector<char*> pointers(std::vector<std::string>& texts) {
  std::vector<char*> out;
  for (auto& text : texts)
    out.push_back(text.data());
  out.push_back(nullptr);
  return out;
}

/// `pid` has exited or been killed: the rest of its group goes too, then it
/// is reaped. Forgotten first: while it is a zombie its pid, which is also
/// its group's id, cannot be reused.
int reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  forget(pid);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

} // namespace

pid_t spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  child_stdio stdio) {
  if (::gettid() != ::getpid())
    throw std::logic_error("start child processes from the main thread: the kernel sends "
                           "PR_SET_PDEATHSIG when the thread that forked exits");
  if (argv.empty())
    throw std::logic_error("spawn_child: no program");
  watch_this_process();
  // Everything the child touches is made before fork.
  auto argv_text = argv;
  auto env_text = env;
  auto args = pointers(argv_text);
  auto envp = pointers(env_text);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
  if (pid == 0)
    become_child(parent, stdio, args.data(), envp.data());
  ::setpgid(pid, pid); // as the child does: the group exists whichever runs first
  if (!remember(pid)) {
    kill_child(pid);
    throw std::runtime_error("more than 256 child processes at once");
  }
  return pid;
}

std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry{*e};
    if (!overrides.count(entry.substr(0, entry.find('='))))
      out.push_back(std::move(entry));
  }
  for (const auto& [name, value] : overrides)
    out.push_back(name + "=" + value);
  return out;
}

std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    siginfo_t info{};
    // WNOWAIT: it stays a zombie until reap() has killed the rest of its group.
    if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0) {
      if (info.si_pid == pid)
        return reap(pid);
    } else if (errno == ECHILD) { // not (or no longer) a child of ours
      forget(pid);
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    ::poll(nullptr, 0, 2);
  }
}

int kill_child(pid_t pid) {
  kill_group(pid);
  return reap(pid);
}

std::optional<int> stop_child(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  if (auto status = wait_child(pid, grace))
    return status;
  kill_child(pid);
  return std::nullopt;
}

command_result run_command(const std::string& command) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
  pid_t pid = -1;
  try {
    pid = spawn_child({"/bin/sh", "-c", command}, environment_with({}), {-1, fds[1], -1});
  } catch (...) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw;
  }
  ::close(fds[1]);
  command_result out;
  char buffer[4096];
  for (;;) {
    const auto n = ::read(fds[0], buffer, sizeof buffer);
    if (n > 0)
      out.output.append(buffer, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  // Its output ended: the shell is exiting (or closed it and runs on, which
  // CTest's timeout ends).
  out.status = wait_child(pid, std::chrono::hours{24}).value_or(-1);
  return out;
}

} // namespace payengine::testing
