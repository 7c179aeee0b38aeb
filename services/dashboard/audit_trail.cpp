#include "audit_trail.h"

#include <spdlog/spdlog.h>

#include "mp/service/validation.h"
#include "random_token.h"

namespace mp::dashboard {

namespace {

constexpr std::size_t kMaxDetailBytes = 1000;  // mp-policy takes 1024 characters

}  // namespace

void record_audit(mp::bus::Client& client, const std::string& operator_name, AuditNote note) {
  if (note.action.empty()) return;
  std::string action = note.action;
  client.request(
      "policy",
      [&](mp::schema::Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        auto body = e.initAuditRecord();
        body.setAction(note.action);
        body.setDetail(mp::service::utf8_prefix(note.detail, kMaxDetailBytes));
        auto list = body.initStations(static_cast<unsigned>(note.stations.size()));
        for (unsigned i = 0; i < note.stations.size(); ++i) list.set(i, note.stations[i]);
      },
      mp::bus::RequestOptions{.deadline = std::chrono::milliseconds(5000),
                              .idempotency_key = random_hex(16),
                              .attempts = 3},
      [action, operator_name](mp::bus::Reply reply) {
        if (!reply.ok()) {
          spdlog::warn("'{}' by {} is not in the audit log: {}", action, operator_name,
                       reply.error_text());
        }
      });
}

}  // namespace mp::dashboard
