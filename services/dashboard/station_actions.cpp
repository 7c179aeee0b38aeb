// OperatorActions: projection, disconnect, applications by name (mp-session, which asks the
// stations' transports) and restarting or shutting down the server (mp-supervisor).
#include <kj/exception.h>

#include "audit_trail.h"
#include "capnp_text.h"
#include "operator_actions.h"

namespace mp::dashboard {

using mp::bus::Reply;
using mp::schema::Envelope;
using nlohmann::json;

namespace {

void set_stations(capnp::List<capnp::Text>::Builder list, const Selection& selection) {
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, selection.stations[i]);
}

unsigned count(const Selection& selection) {
  return selection.all ? 0 : static_cast<unsigned>(selection.stations.size());
}

}  // namespace

void OperatorActions::station_results(const std::string& operator_name,
                                      std::function<void(Envelope::Builder)> build,
                                      const std::string& audit_action,
                                      const std::string& audit_detail, Respond respond) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        build(e);
      },
      mutating(),
      [this, operator_name, audit_action, audit_detail, respond = std::move(respond)](Reply reply) {
        try {
          if (!reply.ok() || !reply.envelope().isStationResults()) {
            respond(error_outcome(status_for(reply), failure_text("session", reply, deadline_)));
            return;
          }
          json results = json::array();
          AuditNote note{.action = audit_action, .detail = audit_detail};
          for (auto r : reply.envelope().getStationResults().getResults()) {
            json entry{{"station", text(r.getStationKey())}, {"ok", r.getOk()}};
            if (r.getReason().size() > 0) entry[r.getOk() ? "note" : "error"] = text(r.getReason());
            if (r.getOk()) note.stations.push_back(text(r.getStationKey()));
            results.push_back(std::move(entry));
          }
          if (!note.stations.empty()) record_audit(client_, operator_name, std::move(note));
          respond(Outcome{200, json{{"results", std::move(results)}}});
        } catch (const kj::Exception& e) {
          respond(
              error_outcome(502, "unreadable reply: " + std::string(e.getDescription().cStr())));
        }
      });
}

void OperatorActions::project(const std::string& operator_name, const std::string& source,
                              const Selection& selection, Respond respond) {
  station_results(
      operator_name,
      [&](Envelope::Builder e) {
        auto body = e.initProjectStart();
        body.setSource(source);
        set_stations(body.initTargets(count(selection)), selection);
      },
      "project", source, std::move(respond));
}

void OperatorActions::stop_projection(const std::string& operator_name, const Selection& selection,
                                      Respond respond) {
  station_results(
      operator_name,
      [&](Envelope::Builder e) {
        set_stations(e.initProjectStop().initTargets(count(selection)), selection);
      },
      "projection stopped", "", std::move(respond));
}

void OperatorActions::disconnect(const std::string& operator_name, const Selection& selection,
                                 Respond respond) {
  station_results(
      operator_name,
      [&](Envelope::Builder e) {
        set_stations(e.initStationDisconnect().initStations(count(selection)), selection);
      },
      "disconnect", "", std::move(respond));
}

void OperatorActions::app(const std::string& operator_name, const std::string& app, bool launch,
                          const Selection& selection, Respond respond) {
  station_results(
      operator_name,
      [&](Envelope::Builder e) {
        if (launch) {
          auto body = e.initAppLaunch();
          body.setApp(app);
          set_stations(body.initStations(count(selection)), selection);
        } else {
          auto body = e.initAppClose();
          body.setApp(app);
          set_stations(body.initStations(count(selection)), selection);
        }
      },
      launch ? "launch application" : "close application", app, std::move(respond));
}

void OperatorActions::list_apps(Respond respond) {
  client_.request(
      "session", [](Envelope::Builder e) { e.initAppListRequest(); },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, respond = std::move(respond)](Reply reply) {
        if (!reply.ok() || !reply.envelope().isAppList()) {
          respond(error_outcome(status_for(reply), failure_text("session", reply, deadline_)));
          return;
        }
        json apps = json::array();
        for (auto app : reply.envelope().getAppList().getApps())
          apps.push_back(text(app.getName()));
        respond(Outcome{200, json{{"apps", std::move(apps)}}});
      });
}

void OperatorActions::power(const std::string& operator_name, bool restart, Respond respond) {
  // Recorded first: once the command runs there may be nobody left to record it.
  record_audit(client_, operator_name,
               AuditNote{.action = restart ? "server restart" : "server shutdown"});
  client_.request(
      "supervisor",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        e.initPowerRequest().setAction(restart ? mp::schema::PowerRequest::Action::RESTART
                                               : mp::schema::PowerRequest::Action::SHUTDOWN);
      },
      mutating(),
      [this, respond = std::move(respond)](Reply reply) {
        if (!reply.ok() || !reply.envelope().isAck()) {
          respond(error_outcome(status_for(reply), failure_text("supervisor", reply, deadline_)));
          return;
        }
        respond(Outcome{
            200, json{{"ok", true}, {"detail", text(reply.envelope().getAck().getDetail())}}});
      });
}

}  // namespace mp::dashboard
