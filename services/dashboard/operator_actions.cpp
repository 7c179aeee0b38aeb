#include "operator_actions.h"
#include "capnp_text.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "audit_trail.h"
#include "random_token.h"

namespace mp::dashboard {

using mp::bus::Reply;
using mp::schema::Envelope;
using mp::schema::Error;
using nlohmann::json;

namespace {

void set_operator(Envelope::Builder e, const std::string& operator_name) {
  // The client fills the header before the body; this names the person for this one request.
  e.getHeader().setOperator(operator_name);
}

// Calls `read`; a reply that cannot be read the expected way still gets an answer.
void answer(const OperatorActions::Respond& respond, const std::function<Outcome()>& read) {
  try {
    respond(read());
  } catch (const std::exception& e) {
    respond(error_outcome(502, std::string("unreadable reply: ") + e.what()));
  } catch (const kj::Exception& e) {
    respond(error_outcome(502, "unreadable reply: " + std::string(e.getDescription().cStr())));
  }
}

}  // namespace

Outcome error_outcome(int status, std::string text) {
  return Outcome{status, json{{"error", std::move(text)}}};
}

int status_for(const Reply& reply) {
  if (!reply.message) {
    return reply.local_error == Error::Kind::OVERLOADED ? 503 : 504;
  }
  switch (reply.error_kind()) {
    case Error::Kind::INVALID:
      return 400;
    case Error::Kind::DENIED:
      return 403;
    case Error::Kind::UNAVAILABLE:
    case Error::Kind::OVERLOADED:
      return 503;
    case Error::Kind::UNIMPLEMENTED:
      return 501;
    default:
      return 502;
  }
}

std::string failure_text(std::string_view service, const Reply& reply,
                         std::chrono::milliseconds deadline) {
  std::string who = "mp-" + std::string(service);
  if (!reply.message && reply.local_error == Error::Kind::UNAVAILABLE) {
    return who + " did not answer within " + std::to_string(deadline.count()) + " ms";
  }
  if (!reply.message) return who + ": " + reply.error_text();
  if (reply.message->is_error()) {
    if (reply.error_kind() == Error::Kind::UNAVAILABLE) {
      return who + " is not available: " + reply.error_text();
    }
    return who + ": " + reply.error_text();
  }
  return who + " answered with an unexpected " + mp::bus::body_name(reply.envelope());
}

OperatorActions::OperatorActions(mp::bus::Client& client, const StationBoard& board,
                                 std::chrono::milliseconds deadline)
    : client_(client), board_(board), deadline_(deadline) {}

mp::bus::RequestOptions OperatorActions::mutating() const {
  return mp::bus::RequestOptions{
      .deadline = deadline_, .idempotency_key = random_hex(16), .attempts = 3};
}

void OperatorActions::authenticate(const std::string& user, const std::string& password,
                                   const std::string& client_address,
                                   std::function<void(AuthResult)> done) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto body = e.initAuthenticate();
        body.setUser(user);
        body.setPassword(password);
        body.setClientAddress(client_address);
      },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, done = std::move(done)](Reply reply) {
        if (!reply.ok() || !reply.envelope().isLogonResult()) {
          done({AuthResult::Kind::unavailable, "", failure_text("session", reply, deadline_)});
          return;
        }
        auto result = reply.envelope().getLogonResult();
        if (result.getOk()) {
          done({AuthResult::Kind::ok, role_name(result.getRole()), ""});
          return;
        }
        // The schema has no code for this; mp-session's words are the contract.
        std::string reason = text(result.getReason());
        bool throttled = reason.find("too many") != std::string::npos;
        done({throttled ? AuthResult::Kind::throttled : AuthResult::Kind::refused, "", reason});
      });
}

void OperatorActions::set_block(const std::string& operator_name, const Selection& selection,
                                bool blocked, const std::string& message, Respond respond) {
  set_policy(
      operator_name, selection,
      [blocked, message](Envelope::Builder e) {
        auto body = e.initSetBlock();
        body.setBlocked(blocked);
        if (blocked) body.setMessage(message);
        return body.initScope();
      },
      std::move(respond));
}

void OperatorActions::set_usb_lock(const std::string& operator_name, const Selection& selection,
                                   bool locked, Respond respond) {
  set_policy(
      operator_name, selection,
      [locked](Envelope::Builder e) {
        auto body = e.initSetUsbLock();
        body.setLocked(locked);
        return body.initScope();
      },
      std::move(respond));
}

void OperatorActions::set_web(const std::string& operator_name, const Selection& selection,
                              mp::schema::WebMode mode, const std::vector<std::string>& domains,
                              Respond respond) {
  auto set_mode = [this, operator_name, selection, mode](Respond done) {
    set_policy(
        operator_name, selection,
        [mode](Envelope::Builder e) {
          auto body = e.initSetWebMode();
          body.setMode(mode);
          return body.initScope();
        },
        std::move(done));
  };
  bool with_list =
      mode == mp::schema::WebMode::ALLOW_ONLY || mode == mp::schema::WebMode::BLOCK_ONLY;
  if (!with_list) {
    set_mode(std::move(respond));
    return;
  }
  // The list first, then the mode: the filter never applies a mode with the old list.
  auto list = mode == mp::schema::WebMode::ALLOW_ONLY ? mp::schema::WebList::ALLOW
                                                      : mp::schema::WebList::BLOCK;
  set_policy(
      operator_name, selection,
      [list, domains](Envelope::Builder e) {
        auto body = e.initEditWebList();
        body.setList(list);
        body.setReplace(true);
        auto add = body.initAdd(static_cast<unsigned>(domains.size()));
        for (unsigned i = 0; i < domains.size(); ++i) add.set(i, domains[i]);
        return body.initScope();
      },
      [set_mode, respond = std::move(respond)](Outcome outcome) mutable {
        if (outcome.status != 200) {
          respond(std::move(outcome));
          return;
        }
        set_mode(std::move(respond));
      });
}

void OperatorActions::set_policy(const std::string& operator_name, const Selection& selection,
                                 FillScope fill, Respond respond) {
  if (!selection.all) {
    per_station(
        "policy", selection.stations, operator_name,
        [fill](const std::string& key, Envelope::Builder e) { fill(e).setStation(key); },
        std::move(respond), "");
    return;
  }
  // One request for everyone: on scope "all" mp-policy also clears every narrower setting.
  client_.request(
      "policy",
      [&](Envelope::Builder e) {
        set_operator(e, operator_name);
        fill(e).setAll();
      },
      mutating(),
      [this, respond = std::move(respond)](Reply reply) {
        answer(respond, [&] {
          if (!reply.ok())
            return error_outcome(status_for(reply), failure_text("policy", reply, deadline_));
          std::string detail =
              reply.envelope().isAck() ? text(reply.envelope().getAck().getDetail()) : "";
          return Outcome{
              200, json{{"results",
                         json::array({{{"station", "all"}, {"ok", true}, {"detail", detail}}})}}};
        });
      });
}

void OperatorActions::send_message(const std::string& operator_name, const Selection& selection,
                                   const std::string& message, Respond respond) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        set_operator(e, operator_name);
        auto body = e.initSendMessage();
        // An empty list means every active session.
        auto stations =
            body.initStations(selection.all ? 0 : static_cast<unsigned>(selection.stations.size()));
        for (unsigned i = 0; !selection.all && i < selection.stations.size(); ++i) {
          stations.set(i, selection.stations[i]);
        }
        body.setText(message);
        body.setFrom(operator_name);
      },
      mutating(),
      [this, operator_name, message, respond = std::move(respond)](Reply reply) {
        answer(respond, [&] {
          if (!reply.ok() || !reply.envelope().isSendMessageResult()) {
            return error_outcome(status_for(reply), failure_text("session", reply, deadline_));
          }
          json results = json::array();
          AuditNote note{.action = "message"};
          for (auto d : reply.envelope().getSendMessageResult().getDelivered()) {
            json entry{{"station", text(d.getStationKey())}, {"ok", d.getMessageId() != 0}};
            if (d.getMessageId() != 0) {
              entry["message_id"] = d.getMessageId();
              note.stations.push_back(text(d.getStationKey()));
            } else {
              entry["error"] = text(d.getReason());
            }
            results.push_back(std::move(entry));
          }
          if (!note.stations.empty()) {
            note.detail = "\"" + message + "\" to " + std::to_string(note.stations.size()) +
                          " of " + std::to_string(results.size()) + " stations";
            record_audit(client_, operator_name, std::move(note));
          }
          return Outcome{200, json{{"results", std::move(results)}}};
        });
      });
}

void OperatorActions::log_off(const std::string& operator_name, const Selection& selection,
                              Respond respond) {
  std::vector<std::string> keys =
      selection.all ? board_.stations_with_sessions() : selection.stations;
  per_station(
      "session", keys, operator_name,
      [](const std::string& key, Envelope::Builder e) {
        auto body = e.initSessionEnd();
        body.setSessionId(0);
        body.setStationKey(key);
      },
      std::move(respond), "log off");
}

void OperatorActions::per_station(std::string_view service, const std::vector<std::string>& keys,
                                  const std::string& operator_name, BuildFor build, Respond respond,
                                  const std::string& audit_action) {
  if (keys.empty()) {
    respond(Outcome{200, json{{"results", json::array()}}});
    return;
  }
  struct Gathered {
    json results = json::array();
    std::size_t waiting = 0;
    int failure_status = 0;
    std::string first_failure;
    std::size_t failures = 0;
    Respond respond;
    AuditNote audit;  // the stations it worked for
  };
  auto gathered = std::make_shared<Gathered>();
  gathered->results = json::array();
  for (const auto& key : keys) gathered->results.push_back(json{{"station", key}});
  gathered->waiting = keys.size();
  gathered->respond = std::move(respond);
  gathered->audit.action = audit_action;
  std::string name(service);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    client_.request(
        name,
        [&](Envelope::Builder e) {
          set_operator(e, operator_name);
          build(keys[i], e);
        },
        mutating(),
        [this, gathered, i, name, operator_name](Reply reply) {
          json& entry = gathered->results[i];
          int status = 0;
          std::string why;
          try {
            if (reply.ok()) {
              entry["ok"] = true;
              if (reply.envelope().isAck()) {
                entry["detail"] = text(reply.envelope().getAck().getDetail());
              }
            } else {
              status = status_for(reply);
              why = failure_text(name, reply, deadline_);
            }
          } catch (const kj::Exception& e) {
            status = 502;
            why = "mp-" + name + " sent an unreadable reply";
          }
          if (status != 0) {
            entry["ok"] = false;
            entry["error"] = why;
            if (gathered->failures++ == 0) {
              gathered->failure_status = status;
              gathered->first_failure = why;
            }
          }
          if (status == 0) gathered->audit.stations.push_back(entry["station"].get<std::string>());
          if (--gathered->waiting > 0) return;
          if (!gathered->audit.stations.empty()) {
            gathered->audit.detail = std::to_string(gathered->audit.stations.size()) + " of " +
                                     std::to_string(gathered->results.size()) + " stations";
            record_audit(client_, operator_name, std::move(gathered->audit));
          }
          if (gathered->failures == 0) {
            gathered->respond(Outcome{200, json{{"results", std::move(gathered->results)}}});
            return;
          }
          std::string summary = std::to_string(gathered->failures) + " of " +
                                std::to_string(gathered->results.size()) +
                                " stations failed; the first: " + gathered->first_failure;
          gathered->respond(
              Outcome{gathered->failure_status,
                      json{{"error", summary}, {"results", std::move(gathered->results)}}});
        });
  }
}

Outcome OperatorActions::stations() const {
  if (!board_.session_synced()) {
    return error_outcome(503, "mp-session has not answered yet; the station list is not known");
  }
  return Outcome{200, board_.stations_json()};
}

Outcome OperatorActions::users() const {
  if (!board_.session_synced()) {
    return error_outcome(503, "mp-session has not answered yet; the user list is not known");
  }
  return Outcome{200, board_.users_json()};
}

}  // namespace mp::dashboard
