#include "webfilter_service.h"

#include <spdlog/spdlog.h>

namespace mp::webfilter {

using mp::bus::Incoming;
using mp::schema::Envelope;

namespace {

std::uint64_t session_snapshot_version(const Incoming& reply) {
  if (reply.which() != Envelope::SESSION_SNAPSHOT) return 0;
  return reply.envelope().getSessionSnapshot().getInfo().getVersion();
}

std::uint64_t policy_snapshot_version(const Incoming& reply) {
  if (reply.which() != Envelope::POLICY_SNAPSHOT) return 0;
  return reply.envelope().getPolicySnapshot().getInfo().getVersion();
}

}  // namespace

WebfilterService::WebfilterService(mp::bus::Client& client, UserDirectory& users,
                                   Nftables* nftables)
    : client_(client),
      nftables_(nftables),
      stations_(users),
      session_replica_(client, std::string(kSessionService), std::string(kSessionTopic),
                       session_snapshot_version,
                       mp::bus::Replica::Callbacks{
                           .on_snapshot =
                               [this](const Incoming& snapshot, std::uint64_t version) {
                                 if (snapshot.which() != Envelope::SESSION_SNAPSHOT) {
                                   spdlog::error("'session' answered the snapshot with {}",
                                                 mp::bus::body_name(snapshot.envelope()));
                                   return;
                                 }
                                 stations_.apply_snapshot(snapshot.envelope().getSessionSnapshot());
                                 spdlog::info("sessions synced at version {}: {} open", version,
                                              stations_.sessions());
                                 sessions_changed();
                               },
                           .on_update =
                               [this](std::string_view, const Incoming& update) {
                                 if (update.which() != Envelope::SESSION_UPDATE) return;
                                 stations_.apply_update(update.envelope().getSessionUpdate());
                                 sessions_changed();
                               }}),
      policy_replica_(client, std::string(kPolicyService), std::string(kPolicyTopic),
                      policy_snapshot_version,
                      mp::bus::Replica::Callbacks{
                          .on_snapshot =
                              [this](const Incoming& snapshot, std::uint64_t version) {
                                if (snapshot.which() != Envelope::POLICY_SNAPSHOT) {
                                  spdlog::error("'policy' answered the snapshot with {}",
                                                mp::bus::body_name(snapshot.envelope()));
                                  return;
                                }
                                policies_.apply_snapshot(snapshot.envelope().getPolicySnapshot());
                                spdlog::info("policy synced at version {}: {} station(s)", version,
                                             policies_.stations());
                              },
                          .on_update =
                              [this](std::string_view, const Incoming& update) {
                                if (update.which() != Envelope::EFFECTIVE_POLICY) return;
                                auto policy = update.envelope().getEffectivePolicy();
                                policies_.apply_update(policy);
                                spdlog::debug("policy of '{}' changed",
                                              std::string_view(policy.getStationKey().cStr(),
                                                               policy.getStationKey().size()));
                              }}) {}

void WebfilterService::start() {
  session_replica_.start();
  policy_replica_.start();
}

const WebRules& WebfilterService::rules_for(uid_t uid) {
  return policies_.rules_for(stations_.station_of(uid));
}

void WebfilterService::sessions_changed() {
  if (nftables_) nftables_->apply(stations_.station_uids());
}

}  // namespace mp::webfilter
