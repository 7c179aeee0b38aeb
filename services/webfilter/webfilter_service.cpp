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
                                fetch_missing_lists();
                              },
                          .on_update =
                              [this](std::string_view, const Incoming& update) {
                                if (update.which() != Envelope::EFFECTIVE_POLICY) return;
                                auto policy = update.envelope().getEffectivePolicy();
                                policies_.apply_update(policy);
                                fetch_missing_lists();
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

void WebfilterService::fetch_missing_lists() {
  for (const auto& key : policies_.missing_lists()) {
    if (fetching_.contains(key)) continue;
    fetching_[key];
    fetch_page(key);
  }
}

void WebfilterService::fetch_page(const std::string& key) {
  auto offset = static_cast<std::uint32_t>(fetching_[key].size());
  client_.request(
      kPolicyService,
      [&](Envelope::Builder out) {
        auto body = out.initDomainListFetch();
        body.setKey(key);
        body.setOffset(offset);
      },
      mp::bus::RequestOptions{.deadline = std::chrono::seconds(5)},
      [this, key](mp::bus::Reply reply) { on_page(key, reply); });
}

void WebfilterService::on_page(const std::string& key, const mp::bus::Reply& reply) {
  auto it = fetching_.find(key);
  if (it == fetching_.end()) return;
  auto fail = [&](const std::string& why) {
    spdlog::warn("web list {}…: {}; retrying", key.substr(0, 12), why);
    fetching_.erase(it);
    retry_lists_later();
  };
  if (!reply.ok()) return fail(reply.error_text());
  if (!reply.envelope().isDomainListPage()) {
    return fail("'policy' answered with " + mp::bus::body_name(reply.envelope()));
  }
  auto page = reply.envelope().getDomainListPage();
  std::vector<std::string>& domains = it->second;
  if (std::string_view(page.getKey().begin(), page.getKey().size()) != key ||
      page.getOffset() != domains.size()) {
    return fail("a page of another list or offset");
  }
  if (page.getTotal() > kMaxListDomains) {
    return fail(std::to_string(page.getTotal()) + " domains, more than " +
                std::to_string(kMaxListDomains));
  }
  if (page.getDomains().size() == 0 && domains.size() < page.getTotal()) {
    return fail("an empty page before the end");
  }
  for (auto domain : page.getDomains()) {
    if (domains.size() >= page.getTotal()) break;
    domains.emplace_back(domain.begin(), domain.size());
  }
  if (domains.size() < page.getTotal()) return fetch_page(key);
  std::vector<std::string> complete = std::move(domains);
  fetching_.erase(it);
  policies_.list_arrived(key, complete);
}

void WebfilterService::retry_lists_later() {
  if (retry_scheduled_) return;
  retry_scheduled_ = true;
  client_.reactor().after(std::chrono::seconds(1), [this] {
    retry_scheduled_ = false;
    fetch_missing_lists();
  });
}

void WebfilterService::sessions_changed() {
  if (nftables_) nftables_->apply(stations_.station_uids());
}

}  // namespace mp::webfilter
