#pragma once

// What the paysim end-to-end tests share: temporary files per test process
// and a bounded wait for state the simulator records asynchronously.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace payengine::test {

// Per process: ctest may run tests in parallel, each with its own keys.
inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "paysim_e2e_" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// Polls `check` until it holds or `deadline` passes; for state the
// simulator records just after the HTTP exchange a test waits on.
template <class Check>
bool eventually(Check check, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!check()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace payengine::test
