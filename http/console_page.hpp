#pragma once
// The console's files (http/console/), embedded at build time.

namespace payengine::http {

struct console_files {
  const char* html; // has the markers <!--@style@--> and <!--@script@-->
  const char* css;
  const char* js;
};

const console_files& console_sources();

} // namespace payengine::http
