#include "http/metrics.hpp"
#include "http/routes.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string_view>

namespace payengine::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0
        && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(plus_is_space && c == '+' ? ' ' : c);
    }
  }
  return out;
}

constexpr std::string_view capture = "([^/]+)";
/// The most captures one pattern may have (the routes use at most two).
constexpr size_t captures_max = 4;

} // namespace

path_pattern::path_pattern(const std::string& pattern) {
  std::string_view rest = pattern;
  if (rest.empty() || rest.front() != '/')
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  while (!rest.empty()) {
    rest.remove_prefix(1); // the '/'
    if (rest.substr(0, capture.size()) == capture
        && (rest.size() == capture.size() || rest[capture.size()] == '/')) {
      segments_.emplace_back(); // the capture holds a '/' of its own
      rest.remove_prefix(capture.size());
      continue;
    }
    auto segment = rest.substr(0, rest.find('/'));
    rest.remove_prefix(segment.size());
    if (segment.empty() || segment.find_first_of("()[]^$*+?\\|.{}") != std::string_view::npos)
      throw std::invalid_argument("route pattern segments are literals or ([^/]+): " + pattern);
    segments_.emplace_back(segment);
  }
  if (std::count(segments_.begin(), segments_.end(), std::string{}) > static_cast<std::ptrdiff_t>(captures_max))
    throw std::invalid_argument("route pattern has more than 4 captures: " + pattern);
}

bool path_pattern::match(const std::string& path, std::vector<std::string>& groups) const {
  // Captures are views into `path` until the whole path matched: a route
  // that does not match allocates nothing (every request tries several).
  std::string_view captured[captures_max];
  size_t captures = 0;
  std::string_view rest = path;
  for (const auto& literal : segments_) {
    if (rest.empty() || rest.front() != '/')
      return false;
    rest.remove_prefix(1);
    auto segment = rest.substr(0, rest.find('/'));
    rest.remove_prefix(segment.size());
    if (literal.empty() ? segment.empty() : segment != literal)
      return false;
    if (literal.empty()) {
      if (captures == captures_max)
        return false; // refused when registered (see the constructor)
      captured[captures++] = segment;
    }
  }
  if (!rest.empty())
    return false;
  groups.assign(1, path);
  for (size_t i = 0; i < captures; ++i)
    groups.emplace_back(captured[i]);
  return true;
}

void split_target(request& req) {
  std::string_view target = req.target;
  auto question = target.find('?');
  req.path = decode(target.substr(0, question), false);
  req.params.clear();
  if (question == std::string_view::npos)
    return;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    req.params.emplace(decode(pair.substr(0, eq), true),
                       eq == std::string_view::npos ? std::string{} : decode(pair.substr(eq + 1), true));
  }
}

const std::string& router::unmatched() {
  static const std::string label = "unmatched";
  return label;
}

void router::add(const std::string& method, const std::string& pattern, route_handlers h) {
  routes_.push_back({method, pattern, path_pattern{pattern}, http_metrics::route_label(pattern),
                     static_cast<uint32_t>(routes_.size()), std::move(h)});
}

const router::route* router::match(request& req, response& res) const {
  // HEAD runs the GET route; the server sends its headers only.
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  const route* same_path = nullptr;
  std::vector<std::string> matches;
  for (const auto& r : routes_) {
    if (!r.path.match(req.path, matches))
      continue;
    if (r.method == method) {
      req.matches = std::move(matches);
      return &r;
    }
    if (!same_path)
      same_path = &r;
  }
  if (!same_path) {
    send(res, {404, "invalid_request_error", "route_not_found", "No such route.", {}, {}});
    return nullptr;
  }
  std::set<std::string> methods; // sorted: a stable Allow header
  for (const auto& r : routes_)
    if (r.pattern == same_path->pattern)
      methods.insert(r.method);
  std::string allow;
  for (const auto& m : methods)
    allow += (allow.empty() ? "" : ", ") + m + (m == "GET" ? ", HEAD" : "");
  res.set_header("Allow", allow);
  send(res, {405, "invalid_request_error", "method_not_allowed",
             req.method.substr(0, 16) + " is not allowed here; use " + allow + ".", {}, {}});
  return nullptr;
}

void router::run(const route& r, const request& req, response& res) const {
  if (!intercept_ || !intercept_(req, res))
    r.handlers.run(req, res);
}

} // namespace payengine::http
