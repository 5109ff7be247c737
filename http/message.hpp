#pragma once
// What a route handler sees: a parsed request and the response it fills.
// Plain data, no server library: the server (http/server.cpp, Beast) reads
// into `request` and writes out `response`; handlers never know which
// library carried the bytes.

#include <functional>
#include <map>
#include <vector>
#include <string>
#include <strings.h>

namespace payengine::http {

/// Header names compare without case (RFC 9110 5.1).
struct header_name_less {
  bool operator()(const std::string& a, const std::string& b) const {
    return ::strcasecmp(a.c_str(), b.c_str()) < 0;
  }
};
using header_map = std::multimap<std::string, std::string, header_name_less>;
/// Query parameters, in the order sent; a name may repeat.
using param_map = std::multimap<std::string, std::string>;

struct request {
  std::string method;
  std::string target; // as sent: path and query
  std::string path;   // decoded path, without the query
  header_map headers;
  param_map params;   // the decoded query string
  std::string body;
  /// What the route pattern matched: [0] the whole path, then each
  /// `([^/]+)` segment in order.
  std::vector<std::string> matches;

  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
  /// The first value of `name`, or "".
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_param_value(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string{} : it->second;
  }
};

/// Writes one piece of a streamed body (false: the client is gone), or
/// ends the stream.
struct stream_sink {
  std::function<bool(const std::string&)> write;
  std::function<void()> done;
};

struct response {
  int status = -1; // unset: the server answers 500
  header_map headers;
  std::string body;

  /// A streamed body (Server-Sent Events): `pump` is called again and again
  /// on a thread of its own until it returns false or calls sink.done();
  /// `finished` runs once at the end, whatever ended it.
  std::function<bool(stream_sink&)> pump;
  std::function<void()> finished;

  /// Sets `name` to `value`, replacing earlier values.
  void set_header(const std::string& name, const std::string& value) {
    headers.erase(name);
    headers.emplace(name, value);
  }
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
  void set_content(std::string content, const std::string& content_type) {
    body = std::move(content);
    set_header("Content-Type", content_type);
  }
  void set_stream(const std::string& content_type, std::function<bool(stream_sink&)> p,
                  std::function<void()> on_finish) {
    status = status < 0 ? 200 : status;
    set_header("Content-Type", content_type);
    pump = std::move(p);
    finished = std::move(on_finish);
  }
};

using handler = std::function<void(const request&, response&)>;

/// Fills req.path and req.params from req.target: percent-decoded, '+' is
/// a space in the query; a malformed escape is kept as it is.
void split_target(request& req);

} // namespace payengine::http
