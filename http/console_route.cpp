// GET /console: the operator's single-page console (http/console/), one
// self-contained page with its style and script inlined. The page holds
// no data: everything it shows comes from /admin/* and /admin/stream with
// the admin token the operator types in. Without the token it answers 401
// with the page itself, which then asks for the token (a browser cannot
// send a bearer token when it navigates).
#include "http/console_page.hpp"
#include "http/routes.hpp"
#include "messages/ids.hpp"

namespace payengine::http {

namespace {

struct console_page {
  std::string html;
  std::string content_security_policy;
};

console_page assemble() {
  const auto& src = console_sources();
  std::string html = src.html;
  std::string script = src.js;
  auto replace = [&html](const std::string& marker, const std::string& with) {
    if (auto at = html.find(marker); at != std::string::npos)
      html.replace(at, marker.size(), with);
  };
  replace("<!--@style@-->", std::string{"<style>"} + src.css + "</style>");
  replace("<!--@script@-->", "<script>" + script + "</script>");
  // Only this script may run, and the page talks only to this server.
  auto policy = "default-src 'none'; script-src 'sha256-" + base64_encode(sha256_bytes(script))
                + "'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:;"
                  " base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return {std::move(html), std::move(policy)};
}

} // namespace

void add_console_route(router& svr, server_context& ctx) {
  auto page = std::make_shared<const console_page>(assemble());
  svr.get("/console", [&ctx, page](const request& req, response& res) {
    res.status = is_admin(ctx, req) ? 200 : 401;
    if (res.status == 401)
      res.set_header("WWW-Authenticate", "Bearer realm=\"payengine admin\"");
    res.set_header("Content-Security-Policy", page->content_security_policy);
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_content(page->html, "text/html; charset=utf-8");
  });
}

} // namespace payengine::http
