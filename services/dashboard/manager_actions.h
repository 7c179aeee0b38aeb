// The Manager's commands (role admin only; the server checks the role): accounts, station names
// and services, as bus requests to mp-session, mp-supervisor and mp-policy. Like
// OperatorActions it runs on the bus thread only and answers every call with an Outcome; every
// request names the operator, and mutating ones carry an idempotency key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "audit_trail.h"
#include "mp/bus/client.h"
#include "operator_actions.h"

namespace mp::dashboard {

class ManagerActions {
 public:
  using Respond = OperatorActions::Respond;

  ManagerActions(mp::bus::Client& client, std::chrono::milliseconds deadline);

  // `role` is "standard", "admin" or "dashboard"; mp-session judges name and password.
  void add_user(const std::string& operator_name, const std::string& name, const std::string& role,
                const std::string& password, Respond respond);
  void remove_user(const std::string& operator_name, const std::string& name, Respond respond);
  // Empty `role` or `password`: that part stays as it is.
  void modify_user(const std::string& operator_name, const std::string& name,
                   const std::string& role, const std::string& password, Respond respond);
  void rename_station(const std::string& operator_name, const std::string& key,
                      const std::string& name, Respond respond);
  // mp-supervisor's view: {"services": [{"name", "state", "pid", "restarts", ...}]}.
  void services(const std::string& operator_name, Respond respond);
  void restart_service(const std::string& operator_name, const std::string& service,
                       Respond respond);
  // mp-policy's audit log, newest first: {"entries": [{"at_ns", "operator", ...}]}.
  void audit(const std::string& operator_name, std::uint32_t limit, std::int64_t since_ns,
             Respond respond);

 private:
  using Build = std::function<void(mp::schema::Envelope::Builder)>;
  // A mutating request answered by an Ack: 200 {"ok": true, "detail"} or the failure. Once
  // acknowledged, `note` goes into mp-policy's audit log.
  void acked(std::string_view service, const std::string& operator_name, Build build,
             Respond respond, AuditNote note);

  mp::bus::Client& client_;
  std::chrono::milliseconds deadline_;
};

}  // namespace mp::dashboard
