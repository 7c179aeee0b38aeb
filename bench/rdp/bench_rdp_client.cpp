// bench-rdp-client: opens N RDP sessions to one server from one process (a thread each), lets
// them run, and reports frames per second, bytes, input-to-pixel latency and the server's CPU
// over one measurement window. See README.md; bench/rdp/run drives it.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <sstream>
#include <thread>

#include "process_cpu.h"
#include "station_client.h"

namespace {

using mp::bench::Clock;

struct Credentials {
  std::string user, password;
};

// One line per station: "user password" (the password may hold spaces: the rest of the line).
std::vector<Credentials> read_credentials(const std::string& path) {
  std::vector<Credentials> result;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto space = line.find(' ');
    if (space == std::string::npos) {
      result.push_back({line, ""});
    } else {
      result.push_back({line.substr(0, space), line.substr(space + 1)});
    }
  }
  return result;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  // Nearest rank.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double cpu_seconds_of_self() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(usage.ru_utime) + sec(usage.ru_stime);
}

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench-rdp-client: N headless RDP sessions, frames, bytes, latency, server CPU"};
  std::string label = "server", credentials_file, codec_name = "rfx", name_prefix = "bench";
  mp::bench::StationOptions base;
  int sessions = 1, latency_stations = 1, stagger_ms = 200;
  double warmup = 5, seconds = 15, connect_timeout = 90;
  std::vector<int> server_pids, server_uids;
  app.add_option("--label", label, "name printed on every line");
  app.add_option("--host", base.host);
  app.add_option("--port", base.port)->required();
  app.add_option("--credentials", credentials_file,
                 "file with one 'user password' line per station (a line may repeat for all)");
  app.add_option("--sessions", sessions, "stations to open")->check(CLI::Range(1, 256));
  app.add_option("--codec", codec_name,
                 "rfx (RemoteFX surface bits, no GFX), gfx (GFX with "
                 "RemoteFX) or default (FreeRDP's defaults)")
      ->check(CLI::IsMember({"rfx", "gfx", "default"}));
  app.add_option("--width", base.width);
  app.add_option("--height", base.height);
  app.add_option("--client-name-prefix", name_prefix, "client names are PREFIX + index");
  app.add_option("--warmup", warmup, "seconds between the last connection and the window");
  app.add_option("--seconds", seconds, "length of the measurement window");
  app.add_option("--connect-timeout", connect_timeout, "seconds for all stations to connect");
  app.add_option("--stagger-ms", stagger_ms, "pause between starting two connections");
  double activation_timeout = 30;
  app.add_option("--activation-timeout", activation_timeout,
                 "seconds a server may take to activate a connection (xfreerdp /timeout:)")
      ->check(CLI::Range(1.0, 120.0));
  app.add_option("--latency-samples", base.latency_samples,
                 "input-to-pixel probes per probing station (0: none)");
  app.add_option("--latency-stations", latency_stations, "how many stations probe latency");
  app.add_option("--server-pid", server_pids, "a server process: it and its descendants count");
  app.add_option("--server-uid", server_uids, "every process of this uid counts as server");
  CLI11_PARSE(app, argc, argv);
  base.codec = codec_name == "rfx"   ? mp::bench::Codec::remotefx
               : codec_name == "gfx" ? mp::bench::Codec::gfx
                                     : mp::bench::Codec::library_default;

  std::vector<Credentials> credentials;
  try {
    if (!credentials_file.empty()) credentials = read_credentials(credentials_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-rdp-client: %s\n", e.what());
    return 2;
  }
  if (!credentials.empty() && credentials.size() != 1 &&
      credentials.size() < static_cast<std::size_t>(sessions)) {
    std::fprintf(stderr, "bench-rdp-client: %zu credentials for %d sessions\n", credentials.size(),
                 sessions);
    return 2;
  }

  mp::bench::Window window;
  std::vector<std::unique_ptr<mp::bench::StationClient>> stations;
  auto connect_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(connect_timeout));
  base.connect_until = connect_deadline;
  base.activation_timeout =
      std::chrono::milliseconds(static_cast<long long>(activation_timeout * 1000));
  for (int i = 0; i < sessions; ++i) {
    auto options = base;
    if (!credentials.empty()) {
      const auto& c = credentials[credentials.size() == 1 ? 0 : static_cast<std::size_t>(i)];
      options.user = c.user;
      options.password = c.password;
    }
    options.client_name = name_prefix + std::to_string(i);
    if (i >= latency_stations) options.latency_samples = 0;
    stations.push_back(std::make_unique<mp::bench::StationClient>(options, window));
    stations.back()->start();
    if (stagger_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stagger_ms));
  }
  while (Clock::now() < connect_deadline &&
         !std::all_of(stations.begin(), stations.end(),
                      [](const auto& s) { return s->attempted(); })) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  auto start = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  window.end_ns = ns_of(end);
  window.start_ns = ns_of(start);
  mp::bench::ServerProcesses server;
  for (int pid : server_pids) server.roots.push_back(static_cast<pid_t>(pid));
  for (int uid : server_uids) server.uids.push_back(static_cast<uid_t>(uid));

  std::this_thread::sleep_until(start);
  auto ticks_before = mp::bench::read_server_ticks(server, getpid());
  double self_before = cpu_seconds_of_self();
  auto measured_from = Clock::now();
  std::this_thread::sleep_until(end);
  auto ticks_after = mp::bench::read_server_ticks(server, getpid());
  double self_after = cpu_seconds_of_self();
  double measured = std::chrono::duration<double>(Clock::now() - measured_from).count();
  // Let every station see the end of the window (it reads its byte counter there), then stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  window.stop = true;
  for (auto& s : stations) s->join();

  auto cpu = mp::bench::cpu_between(ticks_before, ticks_after, measured);
  double server_cpu = 0;
  std::map<std::string, double> by_name;
  for (const auto& p : cpu) {
    server_cpu += p.percent;
    by_name[p.name] += p.percent;
  }
  std::vector<double> fps, latency;
  int connected = 0, lost = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < stations.size(); ++i) {
    const auto& r = stations[i]->result();
    double f = static_cast<double>(r.frames) / seconds;
    fps.push_back(f);
    connected += r.connected ? 1 : 0;
    bytes += r.bytes_in_window;
    lost += r.latency_lost;
    latency.insert(latency.end(), r.latency_ms.begin(), r.latency_ms.end());
    std::printf(
        "station label=%s index=%zu connected=%d connect_s=%.2f attempts=%d fps=%.2f "
        "kbit_per_s=%.1f latency_samples=%zu latency_lost=%d error=\"%s\"\n",
        label.c_str(), i, r.connected ? 1 : 0, r.connect_seconds, r.connect_attempts, f,
        static_cast<double>(r.bytes_in_window) * 8 / 1000 / seconds, r.latency_ms.size(),
        r.latency_lost, r.error.c_str());
  }
  for (const auto& [name, percent] : by_name) {
    std::printf("cpu label=%s process=%s percent=%.2f\n", label.c_str(), name.c_str(), percent);
  }
  double fps_min = *std::min_element(fps.begin(), fps.end());
  double fps_mean = std::accumulate(fps.begin(), fps.end(), 0.0) / static_cast<double>(fps.size());
  std::printf(
      "result label=%s sessions=%d connected=%d fps_min=%.2f fps_mean=%.2f kbit_per_s=%.1f "
      "kbit_per_s_per_station=%.1f latency_p50_ms=%.1f latency_p95_ms=%.1f latency_samples=%zu "
      "latency_lost=%d server_cpu_percent=%.2f server_cpu_percent_per_station=%.2f "
      "client_cpu_percent=%.1f window_s=%.1f\n",
      label.c_str(), sessions, connected, fps_min, fps_mean,
      static_cast<double>(bytes) * 8 / 1000 / seconds,
      static_cast<double>(bytes) * 8 / 1000 / seconds / sessions, percentile(latency, 50),
      percentile(latency, 95), latency.size(), lost, server_cpu, server_cpu / sessions,
      100.0 * (self_after - self_before) / measured, measured);
  return connected == sessions ? 0 : 1;
}
