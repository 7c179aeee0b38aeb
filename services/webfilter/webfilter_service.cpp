#include "webfilter_service.h"

#include <spdlog/spdlog.h>

namespace mp::webfilter {

using mp::bus::Incoming;
using mp::schema::Envelope;

namespace {

// Snapshots come in pages (lib/bus Replica); the replicas join them (on_snapshot).
std::optional<mp::schema::SnapshotResponse::Reader> session_snapshot_info(const Incoming& page) {
  if (page.which() != Envelope::SESSION_SNAPSHOT) return std::nullopt;
  return page.envelope().getSessionSnapshot().getInfo();
}

std::optional<mp::schema::SnapshotResponse::Reader> policy_snapshot_info(const Incoming& page) {
  if (page.which() != Envelope::POLICY_SNAPSHOT) return std::nullopt;
  return page.envelope().getPolicySnapshot().getInfo();
}

}  // namespace

WebfilterService::WebfilterService(mp::bus::Client& client, UserDirectory& users,
                                   StationFirewall* firewall)
    : client_(client),
      firewall_(firewall),
      stations_(users),
      session_replica_(client, std::string(kSessionService), std::string(kSessionTopic),
                       session_snapshot_info,
                       mp::bus::Replica::Callbacks{
                           .on_snapshot =
                               [this](const Incoming& snapshot, std::uint64_t version) {
                                 if (snapshot.which() != Envelope::SESSION_SNAPSHOT) {
                                   spdlog::error("'session' answered the snapshot with {}",
                                                 mp::bus::body_name(snapshot.envelope()));
                                   return;
                                 }
                                 stations_.apply_snapshot(snapshot.envelope().getSessionSnapshot());
                                 spdlog::info("sessions synced at version {}: {} open, {} user(s)",
                                              version, stations_.sessions(), stations_.users());
                                 update_firewall();
                               },
                           .on_update =
                               [this](std::string_view, const Incoming& update) {
                                 if (update.which() == Envelope::SESSION_UPDATE) {
                                   stations_.apply_update(update.envelope().getSessionUpdate());
                                 } else if (update.which() == Envelope::USER_UPDATE) {
                                   stations_.apply_user_update(update.envelope().getUserUpdate());
                                 } else {
                                   return;
                                 }
                                 update_firewall();
                               }}),
      policy_replica_(client, std::string(kPolicyService), std::string(kPolicyTopic),
                      policy_snapshot_info,
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
  client_.serve(
      [this](const Incoming& request, Envelope::Builder reply) { return serve(request, reply); });
  session_replica_.start();
  policy_replica_.start();
}

bool WebfilterService::serve(const Incoming& request, Envelope::Builder reply) {
  if (request.which() != Envelope::WEB_ADMIT) return false;
  admit(request, reply);
  return true;
}

void WebfilterService::admit(const Incoming& request, Envelope::Builder reply) {
  auto body = request.envelope().getWebAdmit();
  auto uid = static_cast<uid_t>(body.getUid());
  std::string_view user(body.getUser().cStr(), body.getUser().size());
  if (uid == 0 || uid == static_cast<uid_t>(-1)) {
    return mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID,
                              "uid " + std::to_string(uid) + " is never under the web rules");
  }
  if (!firewall_) {
    return mp::bus::set_error(
        reply, mp::schema::Error::Kind::UNAVAILABLE,
        "this mp-webfilter does not manage nftables (not root, or --no-nftables)");
  }
  if (uid == firewall_->proxy_uid()) {
    return mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID,
                              "uid " + std::to_string(uid) + " is the web filter's own");
  }
  admitted_.insert(uid);
  spdlog::info("webAdmit: uid {} ({}) goes under the web rules", uid, user);
  if (!stations_.synced()) {
    // Installing now would drop the users a killed predecessor's rules still hold: wait.
    waiting_admits_.push_back(client_.answer_later());
    return;
  }
  if (std::string error = update_firewall(); !error.empty()) {
    return mp::bus::set_error(reply, mp::schema::Error::Kind::FAILED, "nftables: " + error);
  }
  reply.initAck().setDetail("uid " + std::to_string(uid) + " is under the web rules");
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

std::string WebfilterService::update_firewall() {
  if (!firewall_ || !stations_.synced()) return "";
  std::set<uid_t> uids = stations_.station_uids();
  uids.insert(admitted_.begin(), admitted_.end());
  std::string error = firewall_->apply(uids);
  if (!error.empty()) spdlog::error("nftables: {}", error);
  std::vector<mp::bus::Responder> waiting = std::move(waiting_admits_);
  waiting_admits_.clear();
  for (auto& responder : waiting) {
    if (!error.empty()) {
      responder.fail(mp::schema::Error::Kind::FAILED, "nftables: " + error);
      continue;
    }
    responder.reply([](Envelope::Builder out) { out.initAck().setDetail("under the web rules"); });
  }
  return error;
}

}  // namespace mp::webfilter
