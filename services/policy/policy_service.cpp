#include "policy_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "domain_name.h"
#include "mp/service/idempotency.h"
#include "validation.h"

namespace mp::policy {

namespace {

using mp::bus::Incoming;
using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::service::answer_retry;
using mp::service::record_reply;

constexpr std::size_t kMaxIdempotencyKeyBytes = 256;
constexpr std::size_t kMaxMessageCharacters = 500;
constexpr std::size_t kMaxLabelCharacters = 100;
constexpr std::size_t kMaxStationsPerGroupEdit = 4096;
constexpr std::size_t kDefaultAuditLimit = 100;
constexpr std::size_t kMaxAuditLimit = 1000;
// Audit records other services write (auditRecord).
constexpr std::size_t kMaxAuditActionChars = 64;
constexpr std::size_t kMaxAuditDetailChars = 1024;
constexpr std::size_t kMaxAuditStations = 1024;
// Headers, envelope and list overhead around what estimated_bytes counts.
constexpr std::size_t kMessageMargin = 16 * 1024;
constexpr std::size_t kDomainsInDetail = 5;
constexpr std::size_t kDefaultListLimit = 50;
constexpr std::size_t kMaxListPage = 10000;
constexpr std::string_view kSnapshotCursorPrefix = "after:";

// Wire text, whole: kj's own conversion stops at the first NUL, which would let "ok\0<anything>"
// pass validation as "ok".
std::string_view view(kj::StringPtr text) { return {text.begin(), text.size()}; }
std::string text(kj::StringPtr wire) { return std::string(view(wire)); }

// Bytes a text may take in a Cap'n Proto message: its pointer, its NUL-terminated padded body,
// and a far-pointer landing pad (the bus builds messages in growing segments; every text that
// lands in a later segment than its list costs one more word: measured +10 % on a report of
// three 10,000-domain lists).
std::size_t text_bytes(const std::string& s) { return 16 + (s.size() + 1 + 7) / 8 * 8; }

std::size_t list_bytes(const std::vector<std::string>& list) {
  std::size_t bytes = 8;
  for (const auto& item : list) bytes += text_bytes(item);
  return bytes;
}

// An effective policy on the wire: its list travels separately (DomainListFetch).
std::size_t estimated_bytes(const Effective& e) {
  return 48 + text_bytes(e.station_key) + text_bytes(e.block_message) + text_bytes(e.block_source) +
         text_bytes(e.web_source) + text_bytes(e.usb_source) + 96;
}

std::string mode_name(WebMode mode) {
  switch (mode) {
    case WebMode::OFF:
      return "off";
    case WebMode::ALLOW_ONLY:
      return "allowOnly";
    case WebMode::BLOCK_ONLY:
      return "blockOnly";
    default:
      return "inherit";
  }
}

bool known_mode(WebMode mode) {
  return mode == WebMode::UNKNOWN || mode == WebMode::OFF || mode == WebMode::ALLOW_ONLY ||
         mode == WebMode::BLOCK_ONLY;
}

std::string clock_text(unsigned minute) {
  char out[16];  // room for any unsigned, so the compiler can prove no truncation
  std::snprintf(out, sizeof out, "%02u:%02u", minute / 60, minute % 60);
  return out;
}

std::string days_text(std::uint8_t days) {
  static constexpr const char* kNames[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  std::string out;
  for (int day = 0; day < 7; ++day) {
    if ((days & (1u << day)) == 0) continue;
    if (!out.empty()) out += ",";
    out += kNames[day];
  }
  return out;
}

std::string sample(const std::vector<std::string>& domains) {
  std::string out;
  for (std::size_t i = 0; i < domains.size() && i < kDomainsInDetail; ++i) {
    out += (i ? ", " : " ") + domains[i];
  }
  if (domains.size() > kDomainsInDetail) out += ", …";
  return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

// Normalises every domain of a wire list; one bad domain refuses the whole list.
std::string normalise_list(capnp::List<capnp::Text>::Reader wire, bool allow_ip_literal,
                           std::size_t max_items, std::vector<std::string>* out) {
  if (wire.size() > max_items) {
    return "more than " + std::to_string(max_items) + " domains in one list";
  }
  out->reserve(wire.size());
  for (unsigned i = 0; i < wire.size(); ++i) {
    auto checked = normalise_domain(view(wire[i]), allow_ip_literal);
    if (!checked.ok()) {
      std::string shown = check_text("", view(wire[i]), 100).empty() ? text(wire[i]) : "<binary>";
      return "domain '" + shown + "' (#" + std::to_string(i + 1) + "): " + checked.error;
    }
    out->push_back(std::move(checked.domain));
  }
  *out = sorted_unique(std::move(*out));
  return {};
}

void fill(mp::schema::Scope::Builder out, const ScopeRef& scope) {
  switch (scope.kind) {
    case ScopeKind::all:
      out.setAll();
      break;
    case ScopeKind::new_stations:
      out.setNewStations();
      break;
    case ScopeKind::group:
      out.setGroup(scope.name);
      break;
    case ScopeKind::station:
      out.setStation(scope.name);
      break;
  }
}

void fill_list(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i) out.set(i, items[i]);
}

void fill(mp::schema::DomainListRef::Builder out, const ListRef& ref) {
  out.setKey(ref.key);
  out.setCount(ref.count);
}

// The list itself is not sent: `list` names it (since schema 0.2).
void fill(mp::schema::EffectivePolicy::Builder out, const Effective& e, const ListRef& list) {
  out.setStationKey(e.station_key);
  out.setBlocked(e.blocked);
  out.setBlockMessage(e.block_message);
  out.setWebMode(e.web_mode);
  fill(out.initDomainList(), list);
  out.setUsbStorageLocked(e.usb_locked);
  out.setBlockSource(e.block_source);
  out.setWebSource(e.web_source);
  out.setUsbSource(e.usb_source);
}

void fill(mp::schema::Schedule::Builder out, const Schedule& s, bool with_domains = true) {
  out.setId(s.id);
  fill(out.initScope(), s.scope);
  out.setDays(s.days);
  out.setStartMinute(s.start_minute);
  out.setEndMinute(s.end_minute);
  auto action = out.initAction();
  switch (s.kind) {
    case ScheduleKind::block:
      action.setBlock(s.block_message);
      break;
    case ScheduleKind::web: {
      auto web = action.initWeb();
      web.setMode(s.web_mode);
      if (with_domains)
        fill_list(web.initDomains(static_cast<unsigned>(s.domains.size())), s.domains);
      break;
    }
    case ScheduleKind::usb_lock:
      action.setUsbLock();
      break;
  }
  out.setLabel(s.label);
}

void fill(mp::schema::Group::Builder out, const std::string& name,
          const std::set<std::string>& members) {
  out.setName(name);
  auto list = out.initStations(static_cast<unsigned>(members.size()));
  unsigned i = 0;
  for (const auto& key : members) list.set(i++, key);
}

std::size_t schedule_bytes(const Schedule& s) {
  return 96 + text_bytes(s.scope.name) + text_bytes(s.block_message) + text_bytes(s.label) +
         list_bytes(s.domains);
}

}  // namespace

PolicyService::PolicyService(PolicyStore& store, Publish publish, PolicyServiceOptions options)
    : store_(store), publish_(std::move(publish)), options_(std::move(options)) {
  state_ = store_.load_state();
  published_ = store_.load_published();
  for (const auto& [key, effective] : published_) {
    known_stations_.insert(key);
    published_lists_[key] = lists_.add(effective.domains);
  }
  new_stations_ = store_.load_new_stations();
  carried_ = CarriedRestrictions(store_.load_sessions());
  for (const auto& station : carried_.stations()) known_stations_.insert(station);
  refresh_lists();
  if (store_.existed_before()) {
    // Restart path: the store is the state; the published versions go on from where they were.
    spdlog::info(
        "restart: {} at state version {}: {} scopes, {} groups, {} schedules, {} stations ({} "
        "new), {} moved sessions",
        store_.file().string(), store_.state_version(), state_.scopes.size(), state_.groups.size(),
        state_.schedules.size(), published_.size(), new_stations_.size(),
        carried_.sessions().size());
  } else {
    spdlog::info("fresh start: new state in {}", store_.file().string());
  }
  prune(now_ns());
}

std::int64_t PolicyService::now_ns() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::milliseconds PolicyService::delay_to_next_minute() const {
  std::int64_t now_ms = now_ns() / 1'000'000;
  std::int64_t into_minute = ((now_ms % 60'000) + 60'000) % 60'000;
  // A little past the boundary, so the local minute has surely turned.
  return std::chrono::milliseconds(60'000 - into_minute + 50);
}

std::size_t PolicyService::message_budget() const {
  return options_.limits.max_message_bytes > 2 * kMessageMargin
             ? options_.limits.max_message_bytes - kMessageMargin
             : options_.limits.max_message_bytes / 2;
}

void PolicyService::prune(std::int64_t now) {
  auto ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.applied_request_ttl);
  PolicyStore::Transaction transaction(store_);
  store_.prune_applied_requests(now - ttl_ns.count(), options_.max_applied_requests);
  store_.prune_audit(options_.max_audit_entries);
  transaction.commit();
  mutations_since_prune_ = 0;
}

// Dispatch ---------------------------------------------------------------------------------

bool PolicyService::handle(const Incoming& request, Envelope::Builder reply) {
  auto envelope = request.envelope();
  switch (envelope.which()) {
    case Envelope::SET_BLOCK:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return set_block(m, envelope.getSetBlock());
      });
    case Envelope::SET_WEB_MODE:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return set_web_mode(m, envelope.getSetWebMode());
      });
    case Envelope::EDIT_WEB_LIST:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return edit_web_list(m, envelope.getEditWebList());
      });
    case Envelope::SET_USB_LOCK:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return set_usb_lock(m, envelope.getSetUsbLock());
      });
    case Envelope::GROUP_EDIT:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return edit_group(m, envelope.getGroupEdit());
      });
    case Envelope::SCHEDULE_ADD:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder r) {
        return add_schedule(m, envelope.getScheduleAdd(), r);
      });
    case Envelope::SCHEDULE_REMOVE:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return remove_schedule(m, envelope.getScheduleRemove());
      });
    case Envelope::GROUP_LIST_REQUEST:
      list_groups(reply);
      return true;
    case Envelope::SCHEDULE_LIST_REQUEST:
      list_schedules(reply);
      return true;
    case Envelope::POLICY_SHOW_REQUEST:
      show(envelope.getPolicyShowRequest(), reply);
      return true;
    case Envelope::DOMAIN_LIST_FETCH:
      fetch_list(envelope.getDomainListFetch(), reply);
      return true;
    case Envelope::AUDIT_QUERY:
      query_audit(envelope.getAuditQuery(), reply);
      return true;
    case Envelope::AUDIT_RECORD:
      return mutate(request, reply, [&](Mutation& m, Envelope::Builder) {
        return record_audit(m, envelope.getAuditRecord());
      });
    case Envelope::SNAPSHOT_REQUEST:
      snapshot(envelope.getSnapshotRequest(), reply);
      return true;
    default:
      return false;
  }
}

bool PolicyService::mutate(const Incoming& request, Envelope::Builder reply, const Apply& apply) {
  auto header = request.header();
  std::string key = text(header.getIdempotencyKey());
  if (auto e = check_text("idempotencyKey", key, kMaxIdempotencyKeyBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return true;
  }
  std::string body = mp::bus::body_name(request.envelope());

  Mutation m;
  m.now_ns = now_ns();
  m.next = state_;
  PolicyStore::Transaction transaction(store_);
  if (!key.empty() && answer_retry(store_.applied_request(key), key, body, reply)) {
    return true;  // nothing changes: the transaction rolls back
  }
  std::string error = apply(m, reply);
  if (!error.empty()) {
    set_error(reply, Error::Kind::INVALID, error);
    return true;  // refused: nothing was applied, nothing to remember
  }
  // A change of an origin's own setting may lift what sessions carried from it.
  CarriedRestrictions next_carried = carried_;
  next_carried.lift(own_of(m.next, m.now_ns));
  std::vector<Effective> changes = changes_for(m.next, next_carried, m.now_ns);

  store_.save_state(state_, m.next);
  save_sessions(next_carried, next_carried.take_changed());
  std::uint64_t first_version = record_published(changes);
  m.audit.at_ns = m.now_ns;
  m.audit.operator_name = text(header.getOperator());
  m.audit.source = text(header.getSource());
  if (m.audit.operator_name.empty()) m.audit.operator_name = m.audit.source;
  store_.add_audit(m.audit);
  if (reply.isNone()) {
    std::string detail = m.ack_detail.empty() ? m.audit.action : m.ack_detail;
    detail += "; " + std::to_string(changes.size()) + " effective " +
              (changes.size() == 1 ? "policy" : "policies") + " changed";
    reply.initAck().setDetail(detail);
  }
  if (!key.empty()) store_.record_applied_request(key, record_reply(body, reply), m.now_ns);
  transaction.commit();

  state_ = std::move(m.next);
  carried_ = std::move(next_carried);
  lists_may_be_unused_ = true;  // scope lists may have changed
  spdlog::info("{} by {}: {}", m.audit.action, m.audit.operator_name, m.audit.detail);
  // Published only once durable: an update a subscriber saw is never lost by a crash. A crash
  // between commit and publish leaves a version gap, which makes consumers resync.
  publish_committed(changes, first_version);
  if (++mutations_since_prune_ >= options_.prune_every) prune(m.now_ns);
  return true;
}

std::vector<Effective> PolicyService::changes_for(const PolicyState& state,
                                                  const CarriedRestrictions& carried,
                                                  std::int64_t now,
                                                  const std::set<std::string>* only) const {
  auto effective = compute_all(state, only ? *only : stations_to_publish(state, known_stations_),
                               local_minute(now), new_stations_);
  auto carried_by_station = carried.by_station();
  std::vector<Effective> changes;
  for (auto& [key, e] : effective) {
    if (auto c = carried_by_station.find(key); c != carried_by_station.end() && !key.empty()) {
      e = with_carried(std::move(e), c->second);
    }
    auto old = published_.find(key);
    if (old != published_.end() && old->second == e) continue;
    changes.push_back(std::move(e));
  }
  // Lists travel separately, so every effective policy fits in one update.
  return changes;
}

CarriedRestrictions::OwnOf PolicyService::own_of(const PolicyState& state, std::int64_t now) const {
  LocalMinute minute = local_minute(now);
  return [this, &state, minute](const std::string& station) {
    return compute_effective(state, station, minute, new_stations_.contains(station));
  };
}

void PolicyService::save_sessions(const CarriedRestrictions& carried,
                                  const std::set<std::uint64_t>& ids) {
  for (std::uint64_t id : ids) {
    auto it = carried.sessions().find(id);
    store_.save_session(id, it == carried.sessions().end() ? nullptr : &it->second);
  }
}

std::uint64_t PolicyService::record_published(const std::vector<Effective>& changes) {
  std::uint64_t base = store_.state_version();
  // Unused lists are looked for (a scan of every published station) only when a station's list
  // was replaced: thousands of stations attaching one by one must not cost a scan each.
  bool replaced = false;
  for (const auto& e : changes) {
    const std::string& key = lists_.add(e.domains).key;
    auto old = published_lists_.find(e.station_key);
    replaced |= old != published_lists_.end() && !old->second.key.empty() && old->second.key != key;
    store_.put_published(e, key);
  }
  if (replaced) store_.forget_unpublished_lists();
  lists_may_be_unused_ |= replaced;
  if (!changes.empty()) store_.set_state_version(base + changes.size());
  return base + 1;
}

void PolicyService::publish_committed(const std::vector<Effective>& changes,
                                      std::uint64_t first_version) {
  for (const Effective& e : changes) {
    published_[e.station_key] = e;
    known_stations_.insert(e.station_key);
    published_lists_[e.station_key] = lists_.add(e.domains);
  }
  // Lists first become fetchable (lists_.add), then the updates that name them go out.
  if (std::exchange(lists_may_be_unused_, false)) refresh_lists();
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Effective& e = changes[i];
    const ListRef& list = published_lists_[e.station_key];
    publish_(
        kEffectiveTopic, [&](Envelope::Builder out) { fill(out.initEffectivePolicy(), e, list); },
        first_version + i);
  }
}

void PolicyService::refresh_lists() {
  std::vector<std::string> keep;
  for (const auto& [station, ref] : published_lists_) keep.push_back(ref.key);
  for (const auto& [scope, settings] : state_.scopes) {
    keep.push_back(lists_.add(settings.allow_list).key);
    keep.push_back(lists_.add(settings.block_list).key);
  }
  lists_.retain_only(keep);
}

void PolicyService::reevaluate() {
  std::int64_t now = now_ns();
  // A schedule that ended may lift what sessions carried from its stations.
  CarriedRestrictions next_carried = carried_;
  next_carried.lift(own_of(state_, now));
  auto changes = changes_for(state_, next_carried, now);
  auto changed_sessions = next_carried.take_changed();
  if (changes.empty() && changed_sessions.empty()) return;
  PolicyStore::Transaction transaction(store_);
  save_sessions(next_carried, changed_sessions);
  std::uint64_t first_version = record_published(changes);
  transaction.commit();
  carried_ = std::move(next_carried);
  if (changes.empty()) return;
  spdlog::info("{} effective {} changed (versions {}..{})", changes.size(),
               changes.size() == 1 ? "policy" : "policies", first_version,
               first_version + changes.size() - 1);
  publish_committed(changes, first_version);
}

void PolicyService::stations_seen(const std::vector<std::string>& admitted_keys) {
  std::vector<SeenStation> stations;
  for (const auto& key : admitted_keys) stations.push_back({key, true});
  stations_reported(stations);
}

void PolicyService::stations_reported(const std::vector<SeenStation>& stations) {
  // Only what changed is recomputed: 20,000 stations reported one by one must not cost 20,000
  // recomputations of every station.
  std::set<std::string> touched;
  std::map<std::string, bool> newness;
  for (const auto& station : stations) {
    if (auto e = check_station_key(station.key); !e.empty()) {
      spdlog::warn("ignoring a station from mp-session: {}", e);
      continue;
    }
    if (known_stations_.insert(station.key).second) touched.insert(station.key);
    bool is_new = !station.admitted;
    if (is_new != new_stations_.contains(station.key)) {
      newness[station.key] = is_new;
      touched.insert(station.key);
    }
  }
  if (touched.empty()) return;
  std::set<std::string> origins;
  for (const auto& [key, is_new] : newness) origins.insert(key);
  commit_session_facts(carried_, std::move(touched), newness, origins);
}

void PolicyService::sessions_reported(const std::vector<SeenSession>& sessions, bool complete) {
  std::vector<SeenSession> valid;
  std::set<std::string> touched;
  for (const auto& session : sessions) {
    if (auto e = check_station_key(session.station); !e.empty()) {
      spdlog::warn("ignoring session {} from mp-session: {}", session.id, e);
      continue;
    }
    if (!session.moved_from.empty()) {
      if (auto e = check_station_key(session.moved_from); !e.empty()) {
        spdlog::warn("ignoring the move of session {} from mp-session: {}", session.id, e);
        continue;
      }
    }
    if (!session.ended && known_stations_.insert(session.station).second) {
      touched.insert(session.station);
    }
    valid.push_back(session);
  }
  std::int64_t now = now_ns();
  CarriedRestrictions next = carried_;
  auto affected = next.apply(valid, complete, own_of(state_, now), now);
  touched.insert(affected.begin(), affected.end());
  for (const auto& session : valid) {
    if (session.moved_at_ns == 0 || session.ended) continue;
    auto it = next.sessions().find(session.id);
    if (it == next.sessions().end() || !affected.contains(session.station)) continue;
    spdlog::info("session {} on {} (moved from {}) carries {} restriction(s)", session.id,
                 session.station, session.moved_from, it->second.carried.size());
  }
  if (touched.empty()) return;
  commit_session_facts(std::move(next), std::move(touched), {}, {});
}

void PolicyService::commit_session_facts(CarriedRestrictions next, std::set<std::string> stations,
                                         const std::map<std::string, bool>& newness,
                                         const std::set<std::string>& lift_origins) {
  std::int64_t now = now_ns();
  auto remember_new = [this](const std::map<std::string, bool>& changes) {
    for (const auto& [key, is_new] : changes) {
      if (is_new) {
        new_stations_.insert(key);
      } else {
        new_stations_.erase(key);
      }
    }
  };
  remember_new(newness);
  std::map<std::string, bool> undo;
  for (const auto& [key, is_new] : newness) undo[key] = !is_new;
  try {
    if (!lift_origins.empty()) {
      auto lifted = next.lift(own_of(state_, now), &lift_origins);
      stations.insert(lifted.begin(), lifted.end());
    }
    auto changes = changes_for(state_, next, now, &stations);
    auto changed_sessions = next.take_changed();
    if (changes.empty() && changed_sessions.empty() && newness.empty()) return;
    PolicyStore::Transaction transaction(store_);
    for (const auto& [key, is_new] : newness) store_.set_new_station(key, is_new);
    save_sessions(next, changed_sessions);
    std::uint64_t first_version = record_published(changes);
    transaction.commit();
    carried_ = std::move(next);
    if (!changes.empty()) {
      spdlog::info("{} effective {} changed after mp-session's news (versions {}..{})",
                   changes.size(), changes.size() == 1 ? "policy" : "policies", first_version,
                   first_version + changes.size() - 1);
    }
    publish_committed(changes, first_version);
  } catch (...) {
    remember_new(undo);  // nothing was committed
    throw;
  }
}

std::set<std::string> PolicyService::stations_of(const PolicyState& state,
                                                 const ScopeRef& scope) const {
  switch (scope.kind) {
    case ScopeKind::station:
      return {scope.name};
    case ScopeKind::group: {
      auto it = state.groups.find(scope.name);
      return it == state.groups.end() ? std::set<std::string>() : it->second;
    }
    case ScopeKind::new_stations:
      return new_stations_;
    case ScopeKind::all: {
      auto stations = stations_to_publish(state, known_stations_);
      stations.erase("");
      return stations;
    }
  }
  return {};
}

std::string PolicyService::read_scope(mp::schema::Scope::Reader wire, const PolicyState& state,
                                      ScopeRef* scope) const {
  switch (wire.which()) {
    case mp::schema::Scope::ALL:
      *scope = ScopeRef::all();
      return {};
    case mp::schema::Scope::GROUP: {
      std::string name = text(wire.getGroup());
      if (auto e = check_group_name(name); !e.empty()) return e;
      if (!state.groups.contains(name)) return "no group '" + name + "'";
      *scope = ScopeRef::group(name);
      return {};
    }
    case mp::schema::Scope::STATION: {
      std::string key = text(wire.getStation());
      if (auto e = check_station_key(key); !e.empty()) return e;
      *scope = ScopeRef::station(key);
      return {};
    }
    case mp::schema::Scope::NEW_STATIONS:
      *scope = ScopeRef::new_stations();
      return {};
  }
  return "unknown scope";
}

std::size_t PolicyService::total_domains(const PolicyState& state) const {
  std::size_t total = 0;
  for (const auto& [scope, settings] : state.scopes) {
    total += settings.allow_list.size() + settings.block_list.size();
  }
  for (const auto& [id, schedule] : state.schedules) total += schedule.domains.size();
  return total;
}

// Mutations --------------------------------------------------------------------------------

namespace {

// Scopes left with nothing set are forgotten.
void drop_empty_scopes(PolicyState& state) {
  std::erase_if(state.scopes, [](const auto& entry) { return entry.second.empty(); });
}

}  // namespace

std::string PolicyService::set_block(Mutation& m, mp::schema::SetBlock::Reader body) {
  ScopeRef scope;
  if (auto e = read_scope(body.getScope(), m.next, &scope); !e.empty()) return e;
  std::string message = text(body.getMessage());
  if (auto e = check_text("message", message, kMaxMessageCharacters); !e.empty()) return e;
  bool blocked = body.getBlocked();
  if (scope.kind == ScopeKind::all) {
    for (auto& [other, settings] : m.next.scopes) {
      settings.block = Setting::UNKNOWN;
      settings.block_message.clear();
    }
  }
  ScopeSettings& settings = m.next.scopes[scope];
  settings.block = blocked ? Setting::ON : Setting::OFF;
  settings.block_message = blocked ? message : std::string();
  drop_empty_scopes(m.next);
  m.audit.action = blocked ? "block" : "unblock";
  m.audit.detail = scope.describe();
  if (blocked && !message.empty()) m.audit.detail += ": \"" + message + "\"";
  if (scope.kind == ScopeKind::all)
    m.audit.detail += " (new-stations, group and station settings cleared)";
  auto stations = stations_of(m.next, scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  return {};
}

std::string PolicyService::set_web_mode(Mutation& m, mp::schema::SetWebMode::Reader body) {
  ScopeRef scope;
  if (auto e = read_scope(body.getScope(), m.next, &scope); !e.empty()) return e;
  WebMode mode = body.getMode();
  if (!known_mode(mode)) return "unknown web mode " + std::to_string(static_cast<int>(mode));
  if (scope.kind == ScopeKind::all) {
    for (auto& [other, settings] : m.next.scopes) settings.web_mode = WebMode::UNKNOWN;
  }
  m.next.scopes[scope].web_mode = mode;
  drop_empty_scopes(m.next);
  m.audit.action = "web mode";
  m.audit.detail = scope.describe() + ": " + mode_name(mode);
  if (scope.kind == ScopeKind::all)
    m.audit.detail += " (new-stations, group and station modes cleared)";
  auto stations = stations_of(m.next, scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  return {};
}

std::string PolicyService::edit_web_list(Mutation& m, mp::schema::EditWebList::Reader body) {
  ScopeRef scope;
  if (auto e = read_scope(body.getScope(), m.next, &scope); !e.empty()) return e;
  auto which = body.getList();
  if (which != mp::schema::WebList::ALLOW && which != mp::schema::WebList::BLOCK) {
    return "list must be allow or block";
  }
  bool block_list = which == mp::schema::WebList::BLOCK;
  std::vector<std::string> add, remove;
  if (auto e = normalise_list(body.getAdd(), block_list, options_.max_domains_per_list, &add);
      !e.empty()) {
    return e;
  }
  if (auto e = normalise_list(body.getRemove(), block_list, options_.max_domains_per_list, &remove);
      !e.empty()) {
    return e;
  }
  ScopeSettings& settings = m.next.scopes[scope];
  DomainList& list = block_list ? settings.block_list : settings.allow_list;
  std::vector<std::string> next;
  if (body.getReplace()) {
    next = add;
  } else {
    std::set_union(list.begin(), list.end(), add.begin(), add.end(), std::back_inserter(next));
  }
  std::vector<std::string> kept;
  std::set_difference(next.begin(), next.end(), remove.begin(), remove.end(),
                      std::back_inserter(kept));
  if (kept.size() > options_.max_domains_per_list) {
    return "the list would hold " + std::to_string(kept.size()) + " domains, more than " +
           std::to_string(options_.max_domains_per_list);
  }
  std::size_t before = list.size();
  list = std::move(kept);
  drop_empty_scopes(m.next);
  if (std::size_t total = total_domains(m.next); total > options_.max_domains_total) {
    return "all lists together would hold " + std::to_string(total) + " domains, more than " +
           std::to_string(options_.max_domains_total);
  }
  m.audit.action = block_list ? "web block" : "web allow";
  m.audit.detail = scope.describe() + ": " + (body.getReplace() ? "replaced with " : "added ") +
                   std::to_string(add.size()) + sample(add);
  if (!remove.empty()) {
    m.audit.detail += "; removed " + std::to_string(remove.size()) + sample(remove);
  }
  auto it = m.next.scopes.find(scope);
  std::size_t after = it == m.next.scopes.end()
                          ? 0
                          : (block_list ? it->second.block_list : it->second.allow_list).size();
  m.ack_detail = std::string(block_list ? "block" : "allow") + " list of " + scope.describe() +
                 ": " + std::to_string(before) + " -> " + std::to_string(after) + " domains";
  auto stations = stations_of(m.next, scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  return {};
}

std::string PolicyService::set_usb_lock(Mutation& m, mp::schema::SetUsbLock::Reader body) {
  ScopeRef scope;
  if (auto e = read_scope(body.getScope(), m.next, &scope); !e.empty()) return e;
  bool locked = body.getLocked();
  if (scope.kind == ScopeKind::all) {
    for (auto& [other, settings] : m.next.scopes) settings.usb_lock = Setting::UNKNOWN;
  }
  m.next.scopes[scope].usb_lock = locked ? Setting::ON : Setting::OFF;
  drop_empty_scopes(m.next);
  m.audit.action = locked ? "usb lock" : "usb unlock";
  m.audit.detail = scope.describe();
  if (scope.kind == ScopeKind::all)
    m.audit.detail += " (new-stations, group and station settings cleared)";
  auto stations = stations_of(m.next, scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  return {};
}

std::string PolicyService::edit_group(Mutation& m, mp::schema::GroupEdit::Reader body) {
  std::string name = text(body.getName());
  if (auto e = check_group_name(name); !e.empty()) return e;
  auto wire = body.getStations();
  if (wire.size() > kMaxStationsPerGroupEdit) {
    return "more than " + std::to_string(kMaxStationsPerGroupEdit) + " stations in one edit";
  }
  std::set<std::string> stations;
  for (auto key : wire) {
    if (auto e = check_station_key(view(key)); !e.empty()) return e;
    stations.insert(text(key));
  }
  auto group = m.next.groups.find(name);
  if (!body.getRemove()) {
    bool created = group == m.next.groups.end();
    auto& members = m.next.groups[name];
    members.insert(stations.begin(), stations.end());
    m.audit.action = "group add";
    m.audit.detail =
        name + (created ? " (created)" : "") + ": " + std::to_string(stations.size()) + " stations";
    m.audit.stations.assign(stations.begin(), stations.end());
    return {};
  }
  if (group == m.next.groups.end()) return "no group '" + name + "'";
  if (!stations.empty()) {
    for (const auto& key : stations) group->second.erase(key);
    m.audit.action = "group remove";
    m.audit.detail = name + ": " + std::to_string(stations.size()) + " stations";
    m.audit.stations.assign(stations.begin(), stations.end());
    return {};
  }
  std::string used_by;
  for (const auto& [id, schedule] : m.next.schedules) {
    if (schedule.scope == ScopeRef::group(name)) used_by += " " + std::to_string(id);
  }
  if (!used_by.empty()) {
    return "group '" + name + "' has schedules (" + used_by.substr(1) + "); remove them first";
  }
  m.audit.action = "group delete";
  m.audit.detail = name;
  m.audit.stations.assign(group->second.begin(), group->second.end());
  m.next.groups.erase(group);
  m.next.scopes.erase(ScopeRef::group(name));
  return {};
}

std::string PolicyService::add_schedule(Mutation& m, mp::schema::ScheduleAdd::Reader body,
                                        Envelope::Builder reply) {
  auto wire = body.getSchedule();
  Schedule schedule;
  if (auto e = read_scope(wire.getScope(), m.next, &schedule.scope); !e.empty()) return e;
  schedule.days = wire.getDays();
  schedule.start_minute = wire.getStartMinute();
  schedule.end_minute = wire.getEndMinute();
  if (schedule.days < 1 || schedule.days > 127) {
    return "days must be 1..127 (bit 0 = Monday ... bit 6 = Sunday)";
  }
  if (schedule.start_minute > 1439) return "startMinute must be 0..1439";
  if (schedule.end_minute <= schedule.start_minute || schedule.end_minute > 1440) {
    return "endMinute must be after startMinute and at most 1440 (windows do not cross midnight)";
  }
  schedule.label = text(wire.getLabel());
  if (auto e = check_text("label", schedule.label, kMaxLabelCharacters); !e.empty()) return e;
  auto action = wire.getAction();
  std::string what;
  switch (action.which()) {
    case mp::schema::ScheduleAction::BLOCK:
      schedule.kind = ScheduleKind::block;
      schedule.block_message = text(action.getBlock());
      if (auto e = check_text("message", schedule.block_message, kMaxMessageCharacters);
          !e.empty()) {
        return e;
      }
      what = "block";
      if (!schedule.block_message.empty()) what += ": \"" + schedule.block_message + "\"";
      break;
    case mp::schema::ScheduleAction::WEB: {
      schedule.kind = ScheduleKind::web;
      schedule.web_mode = action.getWeb().getMode();
      if (!known_mode(schedule.web_mode) || schedule.web_mode == WebMode::UNKNOWN) {
        return "a web schedule's mode must be off, allowOnly or blockOnly";
      }
      std::vector<std::string> domains;
      if (auto e =
              normalise_list(action.getWeb().getDomains(), schedule.web_mode != WebMode::ALLOW_ONLY,
                             options_.max_domains_per_list, &domains);
          !e.empty()) {
        return e;
      }
      schedule.domains = std::move(domains);
      what = "web " + mode_name(schedule.web_mode) + " " + std::to_string(schedule.domains.size()) +
             " domains";
      break;
    }
    case mp::schema::ScheduleAction::USB_LOCK:
      schedule.kind = ScheduleKind::usb_lock;
      what = "usb lock";
      break;
    default:
      return "unknown schedule action";
  }
  schedule.id = m.next.next_schedule_id++;
  m.next.schedules[schedule.id] = schedule;
  if (std::size_t total = total_domains(m.next); total > options_.max_domains_total) {
    return "all lists together would hold " + std::to_string(total) + " domains, more than " +
           std::to_string(options_.max_domains_total);
  }
  fill(reply.initSchedule(), schedule);
  m.audit.action = "schedule add";
  m.audit.detail = "schedule " + std::to_string(schedule.id) + ": " + schedule.scope.describe() +
                   " " + days_text(schedule.days) + " " + clock_text(schedule.start_minute) + "-" +
                   clock_text(schedule.end_minute) + " " + what;
  if (!schedule.label.empty()) m.audit.detail += " \"" + schedule.label + "\"";
  auto stations = stations_of(m.next, schedule.scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  return {};
}

std::string PolicyService::remove_schedule(Mutation& m, mp::schema::ScheduleRemove::Reader body) {
  auto it = m.next.schedules.find(body.getId());
  if (it == m.next.schedules.end()) return "no schedule " + std::to_string(body.getId());
  m.audit.action = "schedule remove";
  m.audit.detail = "schedule " + std::to_string(it->first) + ": " + it->second.scope.describe();
  auto stations = stations_of(m.next, it->second.scope);
  m.audit.stations.assign(stations.begin(), stations.end());
  m.next.schedules.erase(it);
  return {};
}

// Reads ------------------------------------------------------------------------------------

void PolicyService::snapshot(mp::schema::SnapshotRequest::Reader body, Envelope::Builder reply) {
  if (view(body.getTopic()) != kSnapshotTopic) {
    set_error(reply, Error::Kind::INVALID, "mp-policy serves the snapshot of topic 'policy' only");
    return;
  }
  // In pages by station key (lib/bus Replica): the cursor names the last station of the page
  // before ("after:" + key; "" is a key too, so the cursor needs its own prefix).
  std::string cursor = text(body.getCursor());
  auto it = published_.begin();
  if (!cursor.empty()) {
    if (cursor.rfind(kSnapshotCursorPrefix, 0) != 0) {
      std::string shown = check_text("", cursor, 64).empty() ? cursor : "<binary>";
      set_error(reply, Error::Kind::INVALID, "unknown cursor '" + shown + "'");
      return;
    }
    it = published_.upper_bound(cursor.substr(kSnapshotCursorPrefix.size()));
  }
  std::size_t budget = std::min(options_.snapshot_page_bytes, message_budget());
  std::size_t bytes = 0;
  auto end = it;
  while (end != published_.end()) {
    bytes += estimated_bytes(end->second);
    if (bytes > budget && end != it) break;  // at least one per page
    ++end;
  }
  auto out = reply.initPolicySnapshot();
  auto info = out.initInfo();
  info.setTopic(std::string(kSnapshotTopic));
  info.setVersion(store_.state_version());
  if (end != published_.end()) {
    info.setNextCursor(std::string(kSnapshotCursorPrefix) + std::prev(end)->first);
  }
  auto list = out.initEffective(static_cast<unsigned>(std::distance(it, end)));
  unsigned i = 0;
  for (; it != end; ++it) fill(list[i++], it->second, published_lists_[it->first]);
}

void PolicyService::fetch_list(mp::schema::DomainListFetch::Reader body, Envelope::Builder reply) {
  std::string key = text(body.getKey());
  const std::vector<std::string>* list = lists_.find(key);
  if (list == nullptr) {
    std::string shown = check_text("", key, 64).empty() ? key : "<binary>";
    set_error(reply, Error::Kind::INVALID, "no domain list '" + shown + "'");
    return;
  }
  std::size_t offset = body.getOffset();
  if (offset > list->size()) {
    set_error(reply, Error::Kind::INVALID,
              "offset " + std::to_string(offset) + " is past the list's end (" +
                  std::to_string(list->size()) + " domains)");
    return;
  }
  std::size_t limit = body.getLimit() == 0 ? kMaxListPage : body.getLimit();
  limit = std::min(limit, kMaxListPage);
  // Also bounded by bytes: 10,000 names of 253 bytes would not fit in one message.
  std::size_t budget = message_budget(), bytes = 0, end = offset;
  while (end < list->size() && end - offset < limit) {
    bytes += text_bytes((*list)[end]);
    if (bytes > budget) break;
    ++end;
  }
  auto page = reply.initDomainListPage();
  page.setKey(key);
  page.setTotal(static_cast<std::uint32_t>(list->size()));
  page.setOffset(static_cast<std::uint32_t>(offset));
  auto domains = page.initDomains(static_cast<unsigned>(end - offset));
  for (std::size_t i = offset; i < end; ++i)
    domains.set(static_cast<unsigned>(i - offset), (*list)[i]);
}

void PolicyService::list_groups(Envelope::Builder reply) {
  auto list = reply.initGroupList().initGroups(static_cast<unsigned>(state_.groups.size()));
  unsigned i = 0;
  for (const auto& [name, members] : state_.groups) fill(list[i++], name, members);
}

void PolicyService::list_schedules(Envelope::Builder reply) {
  std::size_t bytes = 0;
  for (const auto& [id, s] : state_.schedules) bytes += schedule_bytes(s);
  bool with_domains = bytes <= message_budget();
  auto list =
      reply.initScheduleList().initSchedules(static_cast<unsigned>(state_.schedules.size()));
  unsigned i = 0;
  for (const auto& [id, s] : state_.schedules) fill(list[i++], s, with_domains);
}

void PolicyService::show(mp::schema::PolicyShowRequest::Reader body, Envelope::Builder reply) {
  // Lists are cut to `listLimit` domains each (the refs name the whole lists, which
  // DomainListFetch serves), so the report fits in one message however long the lists are.
  std::size_t limit = body.getListLimit() == 0 ? kDefaultListLimit : body.getListLimit();
  limit = std::min(limit, kMaxListPage);
  auto head = [limit](const std::vector<std::string>& list) {
    return std::vector<std::string>(
        list.begin(), list.begin() + static_cast<std::ptrdiff_t>(std::min(limit, list.size())));
  };
  std::size_t bytes = 0;
  for (const auto& [scope, s] : state_.scopes) {
    bytes += 256 + text_bytes(scope.name) + text_bytes(s.block_message) +
             list_bytes(head(s.allow_list)) + list_bytes(head(s.block_list));
  }
  for (const auto& [id, s] : state_.schedules) bytes += schedule_bytes(s);
  for (const auto& [name, members] : state_.groups)
    bytes += 32 + text_bytes(name) + 16 * members.size();
  for (const auto& [key, e] : published_) bytes += estimated_bytes(e) + 64;
  if (bytes > message_budget()) {
    set_error(reply, Error::Kind::FAILED,
              "the policy report is ~" + std::to_string(bytes) +
                  " bytes, more than one bus message carries; ask with a smaller listLimit");
    return;
  }

  auto out = reply.initPolicyReport();
  // "all" and "new stations" are always listed, first and second, set or not; then groups and
  // stations.
  static const ScopeSettings kNothingSet;
  std::vector<std::pair<ScopeRef, const ScopeSettings*>> ordered;
  for (const ScopeRef& fixed : {ScopeRef::all(), ScopeRef::new_stations()}) {
    auto it = state_.scopes.find(fixed);
    ordered.emplace_back(fixed, it == state_.scopes.end() ? &kNothingSet : &it->second);
  }
  for (const auto& [scope, settings] : state_.scopes) {
    if (scope.kind == ScopeKind::group || scope.kind == ScopeKind::station) {
      ordered.emplace_back(scope, &settings);
    }
  }
  auto scopes = out.initScopes(static_cast<unsigned>(ordered.size()));
  unsigned i = 0;
  for (const auto& [scope, settings] : ordered) {
    const ScopeSettings& s = *settings;
    auto entry = scopes[i++];
    fill(entry.initScope(), scope);
    entry.setBlock(s.block);
    entry.setBlockMessage(s.block_message);
    entry.setWebMode(s.web_mode);
    auto allow = head(s.allow_list), block = head(s.block_list);
    fill_list(entry.initAllowList(static_cast<unsigned>(allow.size())), allow);
    fill_list(entry.initBlockList(static_cast<unsigned>(block.size())), block);
    fill(entry.initAllowListRef(), lists_.add(s.allow_list));
    fill(entry.initBlockListRef(), lists_.add(s.block_list));
    entry.setUsbLock(s.usb_lock);
  }
  auto groups = out.initGroups(static_cast<unsigned>(state_.groups.size()));
  i = 0;
  for (const auto& [name, members] : state_.groups) fill(groups[i++], name, members);
  auto schedules = out.initSchedules(static_cast<unsigned>(state_.schedules.size()));
  i = 0;
  for (const auto& [id, s] : state_.schedules) fill(schedules[i++], s, true);
  auto list = out.initEffective(static_cast<unsigned>(published_.size()));
  i = 0;
  for (const auto& [key, e] : published_) fill(list[i++], e, published_lists_[key]);
}

std::string PolicyService::record_audit(Mutation& m, mp::schema::AuditRecord::Reader body) {
  // The policy does not change: only the audit entry (and the idempotency record) is written.
  std::string action = text(body.getAction());
  std::string detail = text(body.getDetail());
  if (action.empty()) return "action is empty";
  if (auto e = check_text("action", action, kMaxAuditActionChars); !e.empty()) return e;
  if (auto e = check_text("detail", detail, kMaxAuditDetailChars); !e.empty()) return e;
  if (body.getStations().size() > kMaxAuditStations) {
    return "more than " + std::to_string(kMaxAuditStations) + " stations";
  }
  for (auto key : body.getStations()) {
    m.audit.stations.push_back(text(key));
    if (auto e = check_station_key(m.audit.stations.back()); !e.empty()) return e;
  }
  m.audit.action = action;
  m.audit.detail = detail;
  m.ack_detail = "recorded";
  return "";
}

void PolicyService::query_audit(mp::schema::AuditQuery::Reader body, Envelope::Builder reply) {
  std::size_t limit = body.getLimit() == 0 ? kDefaultAuditLimit : body.getLimit();
  limit = std::min(limit, kMaxAuditLimit);
  auto records = store_.audit(limit, body.getSinceNs());
  // Newest first, as many as fit in one message.
  std::size_t budget = message_budget(), bytes = 0, count = 0;
  for (const auto& r : records) {
    bytes += 64 + text_bytes(r.operator_name) + text_bytes(r.source) + text_bytes(r.action) +
             text_bytes(r.detail) + list_bytes(r.stations);
    if (bytes > budget) break;
    ++count;
  }
  auto entries = reply.initAuditLog().initEntries(static_cast<unsigned>(count));
  for (unsigned i = 0; i < count; ++i) {
    const AuditRecord& r = records[i];
    auto entry = entries[i];
    entry.setAtNs(r.at_ns);
    entry.setOperator(r.operator_name);
    entry.setSource(r.source);
    entry.setAction(r.action);
    entry.setDetail(r.detail);
    fill_list(entry.initStations(static_cast<unsigned>(r.stations.size())), r.stations);
  }
}

}  // namespace mp::policy
