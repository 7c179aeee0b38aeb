// JSON answers to the browser, shared by the dashboard's and the Manager's handlers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "operator_actions.h"

namespace httplib {
struct Response;
}  // namespace httplib

namespace mp::dashboard {

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": text}
void send_error(httplib::Response& res, int status, const std::string& text);
void send_outcome(httplib::Response& res, const Outcome& outcome);

}  // namespace mp::dashboard
