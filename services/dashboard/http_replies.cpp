#include "http_replies.h"

#include <httplib.h>

namespace mp::dashboard {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  // Invalid UTF-8 from a service becomes U+FFFD rather than an exception mid-reply.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& text) {
  send_json(res, status, json{{"error", text}});
}

void send_outcome(httplib::Response& res, const Outcome& outcome) {
  send_json(res, outcome.status, outcome.body.is_null() ? json::object() : outcome.body);
}

}  // namespace mp::dashboard
