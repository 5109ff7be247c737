#pragma once
// Names the calling thread as `top -H`, `perf --per-thread` and
// /proc/PID/task/*/comm show it. CAF calls every detached actor's thread
// "caf.actor"; each detached actor names its own at its start (its behavior
// function runs on that thread), so a profile says which one costs.

#include <pthread.h>

#include <string>

namespace payengine {

/// Linux keeps the first 15 characters.
inline void name_this_thread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

} // namespace payengine
