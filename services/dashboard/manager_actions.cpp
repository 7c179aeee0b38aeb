#include "manager_actions.h"
#include "capnp_text.h"

#include "random_token.h"

namespace mp::dashboard {

using mp::bus::Reply;
using mp::schema::Envelope;
using nlohmann::json;

namespace {

mp::schema::Role role_of(const std::string& name) {
  if (name == "standard") return mp::schema::Role::STANDARD;
  if (name == "admin") return mp::schema::Role::ADMIN;
  if (name == "dashboard") return mp::schema::Role::DASHBOARD;
  return mp::schema::Role::UNKNOWN;
}

std::string service_state_name(mp::schema::ServiceState state) {
  switch (state) {
    case mp::schema::ServiceState::STARTING:
      return "starting";
    case mp::schema::ServiceState::RUNNING:
      return "running";
    case mp::schema::ServiceState::BACKOFF:
      return "backoff";
    case mp::schema::ServiceState::STOPPED:
      return "stopped";
    case mp::schema::ServiceState::FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

// A reply that cannot be read the expected way still gets an answer.
void answer(const ManagerActions::Respond& respond, const std::function<Outcome()>& read) {
  try {
    respond(read());
  } catch (const kj::Exception& e) {
    respond(error_outcome(502, "unreadable reply: " + std::string(e.getDescription().cStr())));
  } catch (const std::exception& e) {
    respond(error_outcome(502, std::string("unreadable reply: ") + e.what()));
  }
}

}  // namespace

ManagerActions::ManagerActions(mp::bus::Client& client, std::chrono::milliseconds deadline)
    : client_(client), deadline_(deadline) {}

void ManagerActions::acked(std::string_view service, const std::string& operator_name, Build build,
                           Respond respond, AuditNote note) {
  std::string name(service);
  client_.request(
      name,
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        build(e);
      },
      mp::bus::RequestOptions{
          .deadline = deadline_, .idempotency_key = random_hex(16), .attempts = 3},
      [this, name, operator_name, note = std::move(note),
       respond = std::move(respond)](Reply reply) mutable {
        answer(respond, [&] {
          if (!reply.ok()) {
            return error_outcome(status_for(reply), failure_text(name, reply, deadline_));
          }
          std::string detail =
              reply.envelope().isAck() ? text(reply.envelope().getAck().getDetail()) : "";
          record_audit(client_, operator_name, std::move(note));
          return Outcome{200, json{{"ok", true}, {"detail", detail}}};
        });
      });
}

void ManagerActions::add_user(const std::string& operator_name, const std::string& name,
                              const std::string& role, const std::string& password,
                              Respond respond) {
  acked("session", operator_name,
        [&](Envelope::Builder e) {
          auto body = e.initUserAdd();
          body.setName(name);
          body.setRole(role_of(role));
          body.setPassword(password);
        },
        std::move(respond), {.action = "user add", .detail = name + " (" + role + ")"});
}

void ManagerActions::remove_user(const std::string& operator_name, const std::string& name,
                                 Respond respond) {
  acked("session", operator_name, [&](Envelope::Builder e) { e.initUserRemove().setName(name); },
        std::move(respond), {.action = "user remove", .detail = name});
}

void ManagerActions::modify_user(const std::string& operator_name, const std::string& name,
                                 const std::string& role, const std::string& password,
                                 Respond respond) {
  acked("session", operator_name,
        [&](Envelope::Builder e) {
          auto body = e.initUserModify();
          body.setName(name);
          body.setRole(role.empty() ? mp::schema::Role::UNKNOWN : role_of(role));
          body.setPassword(password);
        },
        std::move(respond),
        {.action = role.empty() ? "user password" : "user role",
         .detail =
             name + (role.empty() ? "" : " is now " + role) +
             (password.empty() ? "" : (role.empty() ? ": password reset" : ", password reset"))});
}

void ManagerActions::rename_station(const std::string& operator_name, const std::string& key,
                                    const std::string& name, Respond respond) {
  acked("session", operator_name,
        [&](Envelope::Builder e) {
          auto body = e.initStationRename();
          body.setKey(key);
          body.setName(name);
        },
        std::move(respond),
        {.action = "station rename", .detail = "\"" + name + "\"", .stations = {key}});
}

void ManagerActions::restart_service(const std::string& operator_name, const std::string& service,
                                     Respond respond) {
  acked("supervisor", operator_name,
        [&](Envelope::Builder e) {
          auto body = e.initServiceControl();
          body.setService(service);
          body.setAction(mp::schema::ServiceControl::Action::RESTART);
        },
        std::move(respond), {.action = "service restart", .detail = service});
}

void ManagerActions::services(const std::string& operator_name, Respond respond) {
  client_.request(
      "supervisor",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        e.initStatusRequest();
      },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, respond = std::move(respond)](Reply reply) {
        answer(respond, [&] {
          if (!reply.ok() || !reply.envelope().isStatusReport()) {
            return error_outcome(status_for(reply), failure_text("supervisor", reply, deadline_));
          }
          json list = json::array();
          for (auto s : reply.envelope().getStatusReport().getServices()) {
            list.push_back({{"name", text(s.getName())},
                            {"state", service_state_name(s.getState())},
                            {"pid", s.getPid()},
                            {"incarnation", s.getIncarnation()},
                            {"started_at_ns", s.getStartedAtNs()},
                            {"restarts", s.getRestarts()},
                            {"last_exit", text(s.getLastExit())}});
          }
          return Outcome{200, json{{"services", std::move(list)}}};
        });
      });
}

void ManagerActions::audit(const std::string& operator_name, std::uint32_t limit,
                           std::int64_t since_ns, Respond respond) {
  client_.request(
      "policy",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        auto query = e.initAuditQuery();
        query.setLimit(limit);
        query.setSinceNs(since_ns);
      },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, respond = std::move(respond)](Reply reply) {
        answer(respond, [&] {
          if (!reply.ok() || !reply.envelope().isAuditLog()) {
            return error_outcome(status_for(reply), failure_text("policy", reply, deadline_));
          }
          json entries = json::array();
          for (auto entry : reply.envelope().getAuditLog().getEntries()) {
            json stations = json::array();
            for (auto s : entry.getStations()) stations.push_back(text(s));
            entries.push_back({{"at_ns", entry.getAtNs()},
                               {"operator", text(entry.getOperator())},
                               {"source", text(entry.getSource())},
                               {"action", text(entry.getAction())},
                               {"detail", text(entry.getDetail())},
                               {"stations", std::move(stations)}});
          }
          return Outcome{200, json{{"entries", std::move(entries)}}};
        });
      });
}

}  // namespace mp::dashboard
