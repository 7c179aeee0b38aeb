// What an operator does from the dashboard, as bus requests: check a login with mp-session,
// block / unblock through mp-policy, send an instant message and log off through mp-session.
// Runs on the bus thread only (HTTP threads reach it through the BusBridge); every answer is an
// Outcome — an HTTP status and a JSON body — so HTTP handlers only pass it on. Every request
// names the operator (header.operator) for mp-policy's audit log, and every mutating one carries
// an idempotency key, so a resend after a lost reply is applied once.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "json_input.h"
#include "mp/bus/client.h"
#include "schedule_json.h"
#include "station_board.h"

namespace mp::dashboard {

struct Outcome {
  int status = 200;
  nlohmann::json body;
};

// An Outcome for an error: {"error": text}.
Outcome error_outcome(int status, std::string text);

struct AuthResult {
  enum class Kind { ok, refused, throttled, unavailable };
  Kind kind = Kind::unavailable;
  std::string role;    // when ok: "admin", "dashboard", "standard"
  std::string detail;  // why not, for the log and (when unavailable) the browser
};

class OperatorActions {
 public:
  using Respond = std::function<void(Outcome)>;

  OperatorActions(mp::bus::Client& client, const StationBoard& board,
                  std::chrono::milliseconds deadline);

  void authenticate(const std::string& user, const std::string& password,
                    const std::string& client_address, std::function<void(AuthResult)> done);
  void set_block(const std::string& operator_name, const Selection& selection, bool blocked,
                 const std::string& message, Respond respond);
  void set_usb_lock(const std::string& operator_name, const Selection& selection, bool locked,
                    Respond respond);
  // `mode` off, allowOnly, blockOnly, or unknown (inherit); for allowOnly/blockOnly the list of
  // that mode becomes `domains` first (mp-policy normalises and checks them).
  void set_web(const std::string& operator_name, const Selection& selection,
               mp::schema::WebMode mode, const std::vector<std::string>& domains, Respond respond);
  void send_message(const std::string& operator_name, const Selection& selection,
                    const std::string& text, Respond respond);
  void log_off(const std::string& operator_name, const Selection& selection, Respond respond);

  // station_actions.cpp: projection, disconnect, applications, power.
  void project(const std::string& operator_name, const std::string& source,
               const Selection& selection, Respond respond);
  void stop_projection(const std::string& operator_name, const Selection& selection,
                       Respond respond);
  void disconnect(const std::string& operator_name, const Selection& selection, Respond respond);
  void list_apps(Respond respond);
  void app(const std::string& operator_name, const std::string& app, bool launch,
           const Selection& selection, Respond respond);
  void power(const std::string& operator_name, bool restart, Respond respond);

  // schedule_actions.cpp: mp-policy's schedules. One schedule per selected station, or one for
  // everyone.
  void list_schedules(Respond respond);
  void add_schedule(const std::string& operator_name, const Selection& selection,
                    const ScheduleForm& form, Respond respond);
  void remove_schedule(const std::string& operator_name, std::uint64_t id, Respond respond);

  Outcome stations() const;
  Outcome users() const;

 private:
  using BuildFor = std::function<void(const std::string& key, mp::schema::Envelope::Builder)>;
  // Fills a policy request's body and returns its scope, which set_policy points at the stations.
  using FillScope = std::function<mp::schema::Scope::Builder(mp::schema::Envelope::Builder)>;
  // One request per selected station, or one for scope "all".
  void set_policy(const std::string& operator_name, const Selection& selection, FillScope fill,
                  Respond respond);
  // One request per station, all at once; answers when every one is answered. With an
  // `audit_action`, the stations it worked for go into mp-policy's audit log.
  void per_station(std::string_view service, const std::vector<std::string>& keys,
                   const std::string& operator_name, BuildFor build, Respond respond,
                   const std::string& audit_action);
  mp::bus::RequestOptions mutating() const;
  // A request to mp-session answered with StationResults: {"results": [{station, ok, error}]},
  // the stations it worked for audited as `audit_action`.
  void station_results(const std::string& operator_name,
                       std::function<void(mp::schema::Envelope::Builder)> build,
                       const std::string& audit_action, const std::string& audit_detail,
                       Respond respond);

  mp::bus::Client& client_;
  const StationBoard& board_;
  std::chrono::milliseconds deadline_;
};

// The HTTP status for a failed bus reply, and the text the browser sees.
int status_for(const mp::bus::Reply& reply);
std::string failure_text(std::string_view service, const mp::bus::Reply& reply,
                         std::chrono::milliseconds deadline);

}  // namespace mp::dashboard
