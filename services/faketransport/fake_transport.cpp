#include "fake_transport.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace mp::faketransport {

using mp::bus::Incoming;
using mp::bus::Reply;
using mp::bus::RequestOptions;
using mp::schema::Envelope;
using mp::schema::Error;

namespace {

// The scale test attaches 20,000 (tests/e2e_policy); a bound all the same.
constexpr std::size_t kMaxStations = 32768;
const std::regex kKeyPattern("fake:[A-Za-z0-9._-]{1,64}");

bool valid_text(std::string_view text, std::size_t max) {
  if (text.size() > max) return false;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

FakeTransport::FakeTransport(mp::bus::Client& client, std::filesystem::path state_file)
    : client_(client), state_file_(std::move(state_file)) {
  try {
    painter_ = std::make_unique<mp::lockscreen::LockPainter>();
  } catch (const std::exception& e) {
    spdlog::warn("lock screen: {}", e.what());
  }
  auto cache = state_file_;
  cache += ".blocked";
  locks_ = std::make_unique<mp::stationlocks::StationLocks>(
      client_,
      [this](const std::set<std::string>& stations, bool everyone) {
        show_locks(stations, everyone);
      },
      cache);
}

FakeTransport::~FakeTransport() = default;

void FakeTransport::start() {
  load();
  client_.serve([this](const Incoming& r, Envelope::Builder b) { return handle(r, b); });
  // After our own (re)start and after every broker restart: tell mp-session what we have.
  client_.on_registered([this] { send_sync(); });
  client_.subscribe("bus.presence", [this](std::string_view, const Incoming& event) {
    auto presence = event.envelope().getPresence();
    if (presence.getService() != "session" ||
        presence.getState() != mp::schema::Presence::State::UP ||
        presence.getIncarnation() == session_incarnation_) {
      return;
    }
    // mp-session came back: whatever it missed while away, the full list repairs.
    session_incarnation_ = presence.getIncarnation();
    send_sync();
  });
  locks_->start();
  show_locks({}, true);
}

void FakeTransport::show_locks(const std::set<std::string>& stations, bool everyone) {
  for (const auto& [key, station] : stations_) {
    if (everyone || stations.contains(key)) show_lock(station);
  }
}

void FakeTransport::show_lock(const Station& station) {
  auto lock = locks_->lock_of(station.key);
  std::optional<std::string> wanted;
  if (lock.locked) wanted = lock.message;
  if (auto shown = shown_.find(station.key); shown != shown_.end() && shown->second == wanted) {
    return;
  }
  if (wanted && painter_) {
    // The frame a real transport would send; here nobody sees it, but it costs what it costs.
    painter_->paint(station.width != 0 ? station.width : 1024,
                    station.height != 0 ? station.height : 768, {.message = *wanted});
  }
  shown_[station.key] = wanted;
  std::string message = wanted.value_or("");
  using Shows = mp::schema::StationScreen::Shows;
  client_.publish("transport.screen." + station.key, [&](Envelope::Builder e) {
    auto screen = e.initStationScreen();
    screen.setStationKey(station.key);
    screen.setShows(lock.locked ? Shows::LOCK : Shows::DESKTOP);
    screen.setLockMessage(message);
    screen.setPolicyVersion(locks_->version());
  });
}

bool FakeTransport::handle(const Incoming& request, Envelope::Builder reply) {
  switch (request.which()) {
    case Envelope::SIMULATE_STATIONS:
      simulate(request.envelope().getSimulateStations(), reply);
      return true;
    default:
      return false;
  }
}

void FakeTransport::simulate(mp::schema::SimulateStations::Reader simulate,
                             Envelope::Builder reply) {
  // Validate everything before changing anything: a bad request changes nothing.
  for (auto info : simulate.getAttach()) {
    std::string key = info.getKey();
    if (!std::regex_match(key, kKeyPattern)) {
      mp::bus::set_error(
          reply, Error::Kind::INVALID,
          "station key must match fake:[A-Za-z0-9._-]{1,64}, got '" + key.substr(0, 80) + "'");
      return;
    }
    if (!valid_text(info.getClientName().cStr(), 64) || !valid_text(info.getAddress().cStr(), 64)) {
      mp::bus::set_error(reply, Error::Kind::INVALID, "client name or address too long or binary");
      return;
    }
  }
  if (stations_.size() + simulate.getAttach().size() > kMaxStations) {
    mp::bus::set_error(reply, Error::Kind::INVALID,
                       "more than " + std::to_string(kMaxStations) + " simulated stations");
    return;
  }
  std::size_t attached = 0, detached = 0;
  for (auto info : simulate.getAttach()) {
    Station station{info.getKey(), info.getClientName(), info.getAddress(),
                    info.getCapabilities().getWidth(), info.getCapabilities().getHeight()};
    stations_[station.key] = station;
    send_attach(station);
    shown_.erase(station.key);
    show_lock(station);
    ++attached;
  }
  for (auto key : simulate.getDetach()) {
    if (stations_.erase(key.cStr()) > 0) {
      shown_.erase(key.cStr());
      send_detach(key.cStr());
      ++detached;
    }
  }
  save();
  reply.initAck().setDetail("attached " + std::to_string(attached) + ", detached " +
                            std::to_string(detached));
}

void FakeTransport::fill(mp::schema::StationInfo::Builder info, const Station& station) const {
  info.setKey(station.key);
  info.setTransport(client_.service());
  info.setClientName(station.client_name);
  info.setAddress(station.address);
  auto caps = info.initCapabilities();
  caps.setVideo(true);
  caps.setKeyboard(true);
  caps.setMouse(true);
  caps.setWidth(station.width);
  caps.setHeight(station.height);
}

std::string FakeTransport::next_key() {
  std::ostringstream key;
  key << "fake-transport:" << std::hex << client_.incarnation() << ":" << std::dec
      << ++requests_sent_;
  return key.str();
}

void FakeTransport::send_attach(const Station& station) {
  client_.request(
      "session", [&](Envelope::Builder e) { fill(e.initStationAttach().initStation(), station); },
      RequestOptions{
          .deadline = std::chrono::seconds(5), .idempotency_key = next_key(), .attempts = 3},
      [key = station.key](Reply reply) {
        // If mp-session is away, its return triggers a full sync; nothing is lost.
        if (!reply.ok()) spdlog::warn("attach {} not confirmed: {}", key, reply.error_text());
      });
}

void FakeTransport::send_detach(const std::string& key) {
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto detach = e.initStationDetach();
        detach.setKey(key);
        detach.setReason("simulated client left");
      },
      RequestOptions{
          .deadline = std::chrono::seconds(5), .idempotency_key = next_key(), .attempts = 3},
      [key](Reply reply) {
        if (!reply.ok()) spdlog::warn("detach {} not confirmed: {}", key, reply.error_text());
      });
}

void FakeTransport::send_sync() {
  spdlog::info("announcing {} stations to session", stations_.size());
  client_.request(
      "session",
      [&](Envelope::Builder e) {
        auto sync = e.initTransportSync();
        sync.setTransport(client_.service());
        auto list = sync.initStations(stations_.size());
        std::size_t i = 0;
        for (const auto& [key, station] : stations_) fill(list[i++], station);
      },
      RequestOptions{
          .deadline = std::chrono::seconds(5), .idempotency_key = next_key(), .attempts = 3},
      [](Reply reply) {
        if (!reply.ok()) spdlog::warn("station sync not confirmed: {}", reply.error_text());
      });
}

// One station a line: key<TAB>client name<TAB>address<TAB>width<TAB>height.
void FakeTransport::load() {
  std::ifstream in(state_file_);
  std::string line;
  std::size_t bad = 0;
  while (std::getline(in, line) && stations_.size() < kMaxStations) {
    std::istringstream fields(line);
    Station s;
    std::string width, height;
    if (!std::getline(fields, s.key, '\t') || !std::regex_match(s.key, kKeyPattern)) {
      ++bad;
      continue;
    }
    std::getline(fields, s.client_name, '\t');
    std::getline(fields, s.address, '\t');
    std::getline(fields, width, '\t');
    std::getline(fields, height, '\t');
    s.width = static_cast<std::uint16_t>(std::strtoul(width.c_str(), nullptr, 10));
    s.height = static_cast<std::uint16_t>(std::strtoul(height.c_str(), nullptr, 10));
    stations_[s.key] = s;
  }
  if (bad > 0) spdlog::warn("{}: skipped {} unreadable lines", state_file_.string(), bad);
  spdlog::info("{} with {} stations from {}", stations_.empty() ? "fresh start" : "restart",
               stations_.size(), state_file_.string());
}

void FakeTransport::save() const {
  auto temp = state_file_;
  temp += ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    for (const auto& [key, s] : stations_) {
      out << key << '\t' << s.client_name << '\t' << s.address << '\t' << s.width << '\t'
          << s.height << '\n';
    }
  }
  std::filesystem::rename(temp, state_file_);  // atomic: a crash leaves the old or the new list
}

}  // namespace mp::faketransport
