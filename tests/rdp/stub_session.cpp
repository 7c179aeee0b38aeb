#include "stub_session.h"

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"

namespace mp::test {

using mp::schema::Envelope;

StubSession::StubSession(StubSessionConfig config)
    : config_(std::move(config)), thread_([this] { run(); }) {}

StubSession::~StubSession() {
  stop_ = true;
  thread_.join();
}

void StubSession::record(StubEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  changed_.notify_all();
}

std::vector<StubEvent> StubSession::events() {
  std::lock_guard lock(mutex_);
  return events_;
}

std::optional<StubEvent> StubSession::wait_for(const std::function<bool(const StubEvent&)>& match,
                                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<StubEvent> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& e : events_) {
      if (match(e)) {
        found = e;
        return true;
      }
    }
    return false;
  });
  return found;
}

bool StubSession::wait_registered(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!registered_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return registered_;
}

void StubSession::run() {
  zmq::context_t context(1);
  mp::bus::Reactor reactor;
  mp::bus::Client client(context, reactor, mp::bus::Endpoints::in_directory(config_.runtime_dir),
                         mp::bus::ClientOptions{.service = "session"});
  client.on_registered([this] { registered_ = true; });
  client.serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
    auto envelope = request.envelope();
    switch (request.which()) {
      case Envelope::CREDENTIALS: {
        auto credentials = envelope.getCredentials();
        if (credentials.hasStation()) {  // the station mp-session would store on success
          auto station = credentials.getStation();
          record({.kind = "attach",
                  .key = station.getKey(),
                  .address = station.getAddress(),
                  .client_name = station.getClientName(),
                  .width = station.getCapabilities().getWidth(),
                  .height = station.getCapabilities().getHeight()});
        }
        bool good =
            credentials.getUser() == config_.user && credentials.getPassword() == config_.password;
        record({.kind = "credentials",
                .key = credentials.getStationKey(),
                .address = credentials.getClientAddress(),
                .user = credentials.getUser(),
                .accepted = good});
        auto result = reply.initLogonResult();
        result.setOk(good);
        if (!good) {
          result.setReason("wrong user name or password");
          return true;
        }
        result.setRole(mp::schema::Role::STANDARD);
        auto session = result.initSession();
        session.setId(1);
        session.setStationKey(credentials.getStationKey());
        session.setUser(config_.user);
        session.setDisplay(config_.display);
        session.setXauthority(config_.xauthority);
        session.setWidth(static_cast<std::uint16_t>(config_.width));
        session.setHeight(static_cast<std::uint16_t>(config_.height));
        session.setState(mp::schema::SessionState::ACTIVE);
        return true;
      }
      case Envelope::STATION_DETACH:
        record({.kind = "detach", .key = envelope.getStationDetach().getKey()});
        reply.initAck();
        return true;
      case Envelope::TRANSPORT_SYNC: {
        std::string keys;
        for (auto s : envelope.getTransportSync().getStations()) {
          keys += std::string(keys.empty() ? "" : ",") + s.getKey().cStr();
        }
        record({.kind = "sync", .key = keys});
        reply.initAck();
        return true;
      }
      default:
        return false;
    }
  });
  while (!stop_) reactor.run_until([this] { return stop_.load(); }, std::chrono::milliseconds(100));
}

}  // namespace mp::test
