// bench-bus: the bus against raw libzmq, in one run on one machine.
//  (a) throughput: 64-byte probe events through a real mp-bus process (Client publish ->
//      broker -> Client subscribe) vs raw PUSH/PULL over ipc with 64-byte frames;
//  (b) round trips: Client::request -> mp-bus -> Client::serve worker -> back, vs raw REQ/REP
//      over ipc.
// Two more raw rows show what one broker hop costs by itself: the same traffic through a
// zmq_proxy in another process (XSUB/XPUB for events, ROUTER/DEALER for requests).
// Each measurement is repeated and the median run is kept. The last line is machine-readable:
//   bus_throughput_ratio=X bus_rtt_p99_ratio=Y      (ours / raw PUSH/PULL, ours / raw REQ/REP)
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/reactor.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Settings {
  std::size_t messages = 1'000'000;  // per throughput run
  std::size_t round_trips = 20'000;  // per latency run
  std::size_t window = 20'000;       // events in flight before a publisher waits (no loss)
  std::size_t payload = 64;
  int repeat = 3;
  double max_seconds = 3;  // a cap per run, whatever the counts say (keeps a run under 60 s)
  std::string bus_binary = MP_BIN_DIR "/mp-bus";
  std::string phase = "all";   // all, throughput, rtt (to profile one at a time)
  bool cpu_breakdown = false;  // print CPU per event for every thread of the throughput runs
};

struct Throughput {
  double messages_per_second = 0;
  std::size_t received = 0;
  std::size_t sent = 0;
  double cpu_us_per_message = 0;         // every process involved, all threads
  double broker_cpu_us_per_message = 0;  // the middle process alone (0 without one)
};

struct Latency {
  double p50_us = 0;
  double p99_us = 0;
};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Latency percentiles(std::vector<double> samples_us) {
  if (samples_us.empty()) return {};
  std::sort(samples_us.begin(), samples_us.end());
  auto at = [&](double q) {
    auto index = static_cast<std::size_t>(q * static_cast<double>(samples_us.size()));
    return samples_us[std::min(samples_us.size() - 1, index)];
  };
  return {at(0.50), at(0.99)};
}

// The median run by `key` (a noisy 2-core machine: one bad run should not decide).
template <typename T, typename Key>
T median_of(std::vector<T> runs, Key key) {
  std::sort(runs.begin(), runs.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  return runs[runs.size() / 2];
}

// CPU seconds used so far by this process (all threads) or by a child (from /proc).
double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double child_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
    if (i == 15) break;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of every thread of a process, by "name[tid]".
std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> out;
  std::error_code error;
  auto dir = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(dir, error)) {
    std::ifstream in(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string name = text.substr(open + 1, close - open - 1);
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 3; fields >> field; ++i) {
      if (i == 14 || i == 15) ticks += std::stod(field);
      if (i == 15) break;
    }
    out[name + "[" + task.path().filename().string() + "]"] =
        ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return out;
}

// Per-thread CPU per event of a few processes across one run (for --cpu-breakdown).
class ThreadMeter {
 public:
  ThreadMeter(bool enabled, std::vector<std::pair<std::string, pid_t>> processes)
      : enabled_(enabled), processes_(std::move(processes)) {
    if (!enabled_) return;
    for (const auto& [label, pid] : processes_) before_[label] = thread_cpu_seconds(pid);
  }
  void print(const char* run, std::size_t events, double subscriber_cpu_seconds) {
    if (!enabled_ || events == 0) return;
    std::fprintf(stderr, "  CPU per event by thread, %s:\n", run);
    std::fprintf(stderr, "    %-10s %-24s %6.2f us\n", "bench", "subscriber (exited)",
                 subscriber_cpu_seconds * 1e6 / static_cast<double>(events));
    for (const auto& [label, pid] : processes_) {
      for (const auto& [thread, seconds] : thread_cpu_seconds(pid)) {
        double used = seconds - before_[label][thread];
        if (used <= 0) continue;
        std::fprintf(stderr, "    %-10s %-24s %6.2f us\n", label.c_str(), thread.c_str(),
                     used * 1e6 / static_cast<double>(events));
      }
    }
  }

 private:
  bool enabled_;
  std::vector<std::pair<std::string, pid_t>> processes_;
  std::map<std::string, std::map<std::string, double>> before_;
};

// A scratch directory for ipc endpoints, removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mp-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A helper process (mp-bus, or this binary as a raw proxy), SIGTERMed when it goes.
class Child {
 public:
  Child(const std::string& program, const std::vector<std::string>& args) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(program.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(program.c_str(), argv.data());
      std::perror(("exec " + program).c_str());
      _exit(127);
    }
  }
  ~Child() {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(10ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

struct RawProxyEndpoints {
  std::string events_in, events_out, requests, workers;
  explicit RawProxyEndpoints(const std::filesystem::path& dir)
      : events_in("ipc://" + (dir / "proxy-in").string()),
        events_out("ipc://" + (dir / "proxy-out").string()),
        requests("ipc://" + (dir / "proxy-req").string()),
        workers("ipc://" + (dir / "proxy-work").string()) {}
};

// `bench-bus --serve-raw-proxy DIR`: plain zmq_proxy hops, no validation, no routing logic.
int serve_raw_proxy(const std::filesystem::path& dir) {
  RawProxyEndpoints endpoints(dir);
  zmq::context_t context(1);
  zmq::socket_t xsub(context, zmq::socket_type::xsub), xpub(context, zmq::socket_type::xpub);
  xsub.set(zmq::sockopt::rcvhwm, 100000);
  xpub.set(zmq::sockopt::sndhwm, 100000);
  xsub.bind(endpoints.events_in);
  xpub.bind(endpoints.events_out);
  zmq::socket_t router(context, zmq::socket_type::router);
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  router.bind(endpoints.requests);
  dealer.bind(endpoints.workers);
  std::thread requests([&] {
    try {
      zmq::proxy(router, dealer);
    } catch (const zmq::error_t&) {
    }
  });
  try {
    zmq::proxy(xsub, xpub);
  } catch (const zmq::error_t&) {
  }
  requests.join();
  return 0;
}

void fill_probe(mp::schema::Envelope::Builder envelope, std::size_t bytes, std::uint8_t mark) {
  auto data = envelope.initProbe(static_cast<unsigned>(bytes));
  std::memset(data.begin(), mark, data.size());
}

// Asks the broker itself until it answers: then every endpoint is bound.
void wait_for_bus(zmq::context_t& context, const mp::bus::Endpoints& endpoints) {
  mp::bus::Reactor reactor;
  mp::bus::Client probe(context, reactor, endpoints, {.service = "bench-ready"});
  auto until = Clock::now() + 10s;
  while (Clock::now() < until) {
    auto reply =
        probe.call("bus", [](mp::schema::Envelope::Builder e) { e.initBusStatusRequest(); },
                   {.deadline = 300ms});
    if (reply.ok()) return;
  }
  throw std::runtime_error("mp-bus did not answer within 10 s");
}

// Counts what a subscriber thread receives; the publisher reads it for flow control.
struct Receiver {
  std::atomic<std::size_t> received{0};
  Clock::time_point first, last;
  double thread_cpu_seconds = 0;  // the receiving thread's own CPU, start to end
  static double this_thread_cpu() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  }
  void count() {
    auto now = Clock::now();
    if (received.fetch_add(1, std::memory_order_relaxed) == 0) first = now;
    last = now;
  }
  Throughput result(std::size_t sent) const {
    Throughput t;
    t.sent = sent;
    t.received = received.load();
    if (t.received > 1) {
      t.messages_per_second = static_cast<double>(t.received - 1) / seconds_between(first, last);
    }
    return t;
  }
};

// Measures CPU of this process and of `other` (if any) around a run.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t other) : other_(other) {
    own_ = own_cpu_seconds();
    child_ = other_ > 0 ? child_cpu_seconds(other_) : 0;
  }
  void finish(Throughput& t) const {
    if (t.received == 0) return;
    double child = other_ > 0 ? child_cpu_seconds(other_) - child_ : 0;
    double own = own_cpu_seconds() - own_;
    t.cpu_us_per_message = (own + child) * 1e6 / static_cast<double>(t.received);
    t.broker_cpu_us_per_message = child * 1e6 / static_cast<double>(t.received);
  }

 private:
  pid_t other_;
  double own_ = 0, child_ = 0;
};

// --- (a) throughput ---------------------------------------------------------------------------

Throughput bus_throughput(zmq::context_t& context, const mp::bus::Endpoints& endpoints,
                          pid_t broker, const Settings& settings) {
  std::atomic<bool> subscribed{false}, synced{false}, finished{false};
  Receiver receiver;

  std::thread subscriber([&] {
    pthread_setname_np(pthread_self(), "subscriber");
    mp::bus::Reactor reactor;
    mp::bus::Client client(context, reactor, endpoints, {.service = "bench-sub"});
    client.subscribe("bench.", [&](std::string_view topic, const mp::bus::Incoming& event) {
      if (topic == "bench.data") {
        receiver.count();
        // Read the payload as a consumer would.
        if (event.envelope().getProbe().size() != settings.payload) std::abort();
      } else if (topic == "bench.sync") {
        synced = true;
      } else if (topic == "bench.end") {
        finished = true;
      }
    });
    subscribed = true;
    auto limit = std::chrono::milliseconds(static_cast<int>(settings.max_seconds * 1000) + 5000);
    double cpu = Receiver::this_thread_cpu();
    reactor.run_until([&] { return finished.load(); }, limit);
    receiver.thread_cpu_seconds = Receiver::this_thread_cpu() - cpu;
  });

  mp::bus::Reactor reactor;
  mp::bus::Client publisher(context, reactor, endpoints, {.service = "bench-pub"});
  while (!subscribed) std::this_thread::sleep_for(1ms);
  // Subscriptions reach the broker asynchronously: publish until one gets through.
  for (int i = 0; i < 500 && !synced; ++i) {
    publisher.publish("bench.sync", [](mp::schema::Envelope::Builder e) { e.setNone(); });
    std::this_thread::sleep_for(10ms);
  }
  if (!synced) throw std::runtime_error("the subscriber never heard the publisher");

  CpuMeter meter(broker);
  ThreadMeter threads(settings.cpu_breakdown, {{"bench", getpid()}, {"mp-bus", broker}});
  std::size_t sent = 0;
  auto stop_at = Clock::now() + std::chrono::duration<double>(settings.max_seconds);
  for (; sent < settings.messages; ++sent) {
    // PUB never blocks, it drops: wait for the subscriber instead, as PUSH would.
    while (settings.window != 0 &&
           sent - receiver.received.load(std::memory_order_relaxed) > settings.window) {
      std::this_thread::sleep_for(20us);  // block, as PUSH would, without burning CPU
    }
    publisher.publish("bench.data", [&](mp::schema::Envelope::Builder e) {
      fill_probe(e, settings.payload, static_cast<std::uint8_t>(sent));
    });
    if ((sent & 1023) == 0 && Clock::now() > stop_at) break;
  }
  // The end marker follows the data in order; repeat it in case one is dropped.
  for (int i = 0; i < 1000 && !finished; ++i) {
    publisher.publish("bench.end", [](mp::schema::Envelope::Builder e) { e.setNone(); });
    std::this_thread::sleep_for(1ms);
  }
  finished = true;
  subscriber.join();
  Throughput result = receiver.result(sent);
  meter.finish(result);
  threads.print("ours", result.received, receiver.thread_cpu_seconds);
  return result;
}

Throughput raw_throughput(zmq::context_t& context, const std::filesystem::path& dir,
                          const Settings& settings) {
  const std::string endpoint = "ipc://" + (dir / "raw-push").string();
  zmq::socket_t pull(context, zmq::socket_type::pull);
  pull.bind(endpoint);
  Receiver receiver;
  CpuMeter meter(0);
  std::thread receiving([&] {
    zmq::message_t message;
    while (true) {
      if (!pull.recv(message)) continue;
      if (message.size() != settings.payload) break;  // the end marker
      receiver.count();
    }
  });
  zmq::socket_t push(context, zmq::socket_type::push);
  push.connect(endpoint);
  std::vector<std::uint8_t> payload(settings.payload, 0x5a);
  std::size_t sent = 0;
  auto stop_at = Clock::now() + std::chrono::duration<double>(settings.max_seconds);
  for (; sent < settings.messages; ++sent) {
    payload[0] = static_cast<std::uint8_t>(sent);
    push.send(zmq::buffer(payload));
    if ((sent & 1023) == 0 && Clock::now() > stop_at) break;
  }
  push.send(zmq::str_buffer("end"));
  receiving.join();
  Throughput result = receiver.result(sent);
  meter.finish(result);
  return result;
}

// Raw [topic][payload] PUB -> zmq_proxy (XSUB/XPUB) -> SUB: the cost of one broker hop alone.
Throughput raw_proxy_throughput(zmq::context_t& context, const RawProxyEndpoints& proxy,
                                pid_t proxy_pid, const Settings& settings) {
  std::atomic<bool> subscribed{false}, synced{false};
  Receiver receiver;
  std::thread subscriber([&] {
    pthread_setname_np(pthread_self(), "subscriber");
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, 100000);
    sub.set(zmq::sockopt::subscribe, "bench.");
    sub.connect(proxy.events_out);
    subscribed = true;
    double cpu = Receiver::this_thread_cpu();
    zmq::message_t topic, body;
    while (true) {
      if (!sub.recv(topic) || !sub.recv(body)) continue;
      if (topic.to_string_view() == "bench.data") {
        receiver.count();
      } else if (topic.to_string_view() == "bench.sync") {
        synced = true;
      } else if (topic.to_string_view() == "bench.end") {
        break;
      }
    }
    receiver.thread_cpu_seconds = Receiver::this_thread_cpu() - cpu;
  });
  zmq::socket_t pub(context, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, 100000);
  pub.connect(proxy.events_in);
  while (!subscribed) std::this_thread::sleep_for(1ms);
  std::vector<std::uint8_t> payload(settings.payload, 0x5a);
  for (int i = 0; i < 500 && !synced; ++i) {
    pub.send(zmq::str_buffer("bench.sync"), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(payload));
    std::this_thread::sleep_for(10ms);
  }
  if (!synced) throw std::runtime_error("the raw proxy subscriber never heard the publisher");
  CpuMeter meter(proxy_pid);
  ThreadMeter threads(settings.cpu_breakdown, {{"bench", getpid()}, {"proxy", proxy_pid}});
  std::size_t sent = 0;
  auto stop_at = Clock::now() + std::chrono::duration<double>(settings.max_seconds);
  for (; sent < settings.messages; ++sent) {
    while (settings.window != 0 &&
           sent - receiver.received.load(std::memory_order_relaxed) > settings.window) {
      std::this_thread::sleep_for(20us);
    }
    payload[0] = static_cast<std::uint8_t>(sent);
    pub.send(zmq::str_buffer("bench.data"), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(payload));
    if ((sent & 1023) == 0 && Clock::now() > stop_at) break;
  }
  pub.send(zmq::str_buffer("bench.end"), zmq::send_flags::sndmore);
  pub.send(zmq::buffer(payload));
  subscriber.join();
  Throughput result = receiver.result(sent);
  meter.finish(result);
  threads.print("proxy", result.received, receiver.thread_cpu_seconds);
  return result;
}

// --- (b) round trips --------------------------------------------------------------------------

Latency bus_round_trips(zmq::context_t& context, const mp::bus::Endpoints& endpoints,
                        const Settings& settings) {
  std::atomic<bool> ready{false}, stop{false};
  std::thread worker([&] {
    mp::bus::Reactor reactor;
    mp::bus::Client client(context, reactor, endpoints, {.service = "bench-echo"});
    client.serve([&](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
      auto probe = request.envelope().getProbe();
      if (probe.size() == 0) stop = true;
      reply.setProbe(probe);
      return true;
    });
    reactor.run_until([&] { return client.counters().registrations > 0; }, 10s);
    ready = true;
    reactor.run_until([&] { return stop.load(); }, 120s);
  });
  while (!ready) std::this_thread::sleep_for(1ms);

  mp::bus::Reactor reactor;
  mp::bus::Client client(context, reactor, endpoints, {.service = "bench-req"});
  auto echo = [&](std::size_t bytes) {
    auto reply = client.call("bench-echo",
                             [&](mp::schema::Envelope::Builder e) { fill_probe(e, bytes, 0x33); });
    if (!reply.ok()) throw std::runtime_error("bus round trip failed: " + reply.error_text());
  };
  for (int i = 0; i < 200; ++i) echo(settings.payload);  // warm up
  std::vector<double> samples;
  samples.reserve(settings.round_trips);
  auto stop_at = Clock::now() + std::chrono::duration<double>(settings.max_seconds);
  for (std::size_t i = 0; i < settings.round_trips && Clock::now() < stop_at; ++i) {
    auto start = Clock::now();
    echo(settings.payload);
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  echo(0);  // stops the worker
  worker.join();
  return percentiles(std::move(samples));
}

// REQ -> REP, directly (`via` empty) or through the raw ROUTER/DEALER proxy.
Latency raw_round_trips(zmq::context_t& context, const std::string& bind_or_connect,
                        const std::string& via, const Settings& settings) {
  zmq::socket_t rep(context, zmq::socket_type::rep);
  if (via.empty()) {
    rep.bind(bind_or_connect);
  } else {
    rep.connect(bind_or_connect);
  }
  std::thread server([&] {
    zmq::message_t message;
    while (true) {
      if (!rep.recv(message)) continue;
      bool last = message.size() == 0;
      rep.send(message, zmq::send_flags::none);
      if (last) break;
    }
  });
  zmq::socket_t req(context, zmq::socket_type::req);
  req.connect(via.empty() ? bind_or_connect : via);
  std::vector<std::uint8_t> payload(settings.payload, 0x33);
  zmq::message_t answer;
  auto echo = [&](std::size_t bytes) {
    req.send(zmq::buffer(payload.data(), bytes));
    if (!req.recv(answer) || answer.size() != bytes) throw std::runtime_error("raw REQ/REP failed");
  };
  for (int i = 0; i < 200; ++i) echo(settings.payload);
  std::vector<double> samples;
  samples.reserve(settings.round_trips);
  auto stop_at = Clock::now() + std::chrono::duration<double>(settings.max_seconds);
  for (std::size_t i = 0; i < settings.round_trips && Clock::now() < stop_at; ++i) {
    auto start = Clock::now();
    echo(settings.payload);
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  echo(0);
  server.join();
  return percentiles(std::move(samples));
}

// --- the library's own share, without sockets -------------------------------------------------

struct FramingCost {
  double build_ns = 0;   // Outgoing + header + probe body + to_frame
  double decode_ns = 0;  // Incoming::decode (limits, validation, reader) + reading the probe
};

FramingCost framing_cost(const Settings& settings) {
  constexpr int kIterations = 200'000;
  auto build = [&](int i) {
    mp::bus::Outgoing out;
    auto header = out.envelope().initHeader();
    header.setSource("bench-pub");
    header.setSequence(static_cast<std::uint64_t>(i));
    header.setSentAtNs(i);
    fill_probe(out.envelope(), settings.payload, static_cast<std::uint8_t>(i));
    return out.to_frame();
  };
  std::size_t bytes = 0;
  auto start = Clock::now();
  for (int i = 0; i < kIterations; ++i) bytes += build(i).size();  // sent, then freed
  auto built = Clock::now();
  zmq::message_t frame = build(0);
  for (int i = 0; i < kIterations; ++i) {
    zmq::message_t received;
    received.copy(frame);  // shares the buffer, as a received frame owns its own
    auto in = mp::bus::Incoming::decode(std::move(received), mp::bus::Limits{});
    if (!in) std::abort();
    bytes += in->envelope().getProbe().size();
  }
  auto decoded = Clock::now();
  if (bytes == 0) std::abort();
  return {seconds_between(start, built) * 1e9 / kIterations,
          seconds_between(built, decoded) * 1e9 / kIterations};
}

struct Results {
  std::vector<Throughput> ours_tp, raw_tp, proxy_tp;
  std::vector<Latency> ours_rtt, raw_rtt, proxy_rtt;
  FramingCost framing;
};

void print_report(const Settings& settings, const Results& r) {
  auto by_rate = [](const Throughput& t) { return t.messages_per_second; };
  auto by_p99 = [](const Latency& l) { return l.p99_us; };
  Throughput ours_t = median_of(r.ours_tp, by_rate), raw_t = median_of(r.raw_tp, by_rate),
             proxy_t = median_of(r.proxy_tp, by_rate);
  Latency ours_l = median_of(r.ours_rtt, by_p99), raw_l = median_of(r.raw_rtt, by_p99),
          proxy_l = median_of(r.proxy_rtt, by_p99);
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  double x = ratio(ours_t.messages_per_second, raw_t.messages_per_second);
  double y = ratio(ours_l.p99_us, raw_l.p99_us);
  double loss =
      ours_t.sent
          ? 100.0 * (1.0 - static_cast<double>(ours_t.received) / static_cast<double>(ours_t.sent))
          : 0;

  std::printf("bench-bus: %zu-byte payload over ipc, %u cores, median of %d runs\n",
              settings.payload, std::thread::hardware_concurrency(), settings.repeat);
  std::printf("  ours  = Client -> mp-bus process -> Client (Cap'n Proto envelope, probe body)\n");
  std::printf("  raw   = libzmq PUSH/PULL and REQ/REP, %zu-byte frames, no hop\n",
              settings.payload);
  std::printf("  proxy = raw frames through a zmq_proxy process (one hop, no validation)\n\n");
  std::printf("%-28s %14s %14s %8s %14s %8s\n", "", "ours", "raw", "ratio", "proxy", "ratio");
  std::printf("%-28s %14.0f %14.0f %8.2f %14.0f %8.2f\n", "throughput (msg/s)",
              ours_t.messages_per_second, raw_t.messages_per_second, x, proxy_t.messages_per_second,
              ratio(ours_t.messages_per_second, proxy_t.messages_per_second));
  std::printf("%-28s %14.2f %14.2f %8.2f %14.2f %8.2f\n", "  CPU per event, all (us)",
              ours_t.cpu_us_per_message, raw_t.cpu_us_per_message,
              ratio(ours_t.cpu_us_per_message, raw_t.cpu_us_per_message),
              proxy_t.cpu_us_per_message,
              ratio(ours_t.cpu_us_per_message, proxy_t.cpu_us_per_message));
  std::printf("%-28s %14.2f %14s %8s %14.2f %8.2f\n", "  CPU per event, hop (us)",
              ours_t.broker_cpu_us_per_message, "-", "", proxy_t.broker_cpu_us_per_message,
              ratio(ours_t.broker_cpu_us_per_message, proxy_t.broker_cpu_us_per_message));
  std::printf("%-28s %13.2f%% %14s\n", "  events lost", loss, "-");
  std::printf("%-28s %14.1f %14.1f %8.2f %14.1f %8.2f\n", "round trip p50 (us)", ours_l.p50_us,
              raw_l.p50_us, ratio(ours_l.p50_us, raw_l.p50_us), proxy_l.p50_us,
              ratio(ours_l.p50_us, proxy_l.p50_us));
  std::printf("%-28s %14.1f %14.1f %8.2f %14.1f %8.2f\n", "round trip p99 (us)", ours_l.p99_us,
              raw_l.p99_us, y, proxy_l.p99_us, ratio(ours_l.p99_us, proxy_l.p99_us));
  std::printf("%-28s %14.0f\n", "lib: build+serialise (ns)", r.framing.build_ns);
  std::printf("%-28s %14.0f\n", "lib: decode+validate (ns)", r.framing.decode_ns);
  std::printf("targets: throughput ratio >= 0.5 (%s), p99 ratio <= 2.0 (%s)\n",
              x >= 0.5 ? "met" : "MISSED", y <= 2.0 ? "met" : "MISSED");
  std::printf("bus_throughput_ratio=%.2f bus_rtt_p99_ratio=%.2f\n", x, y);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::string raw_proxy_dir;
  CLI::App app{"bench-bus: mp-bus against raw libzmq (throughput and round trips)"};
  app.add_option("--messages", settings.messages, "events per throughput run")
      ->capture_default_str();
  app.add_option("--round-trips", settings.round_trips, "requests per latency run")
      ->capture_default_str();
  app.add_option("--payload", settings.payload, "probe payload bytes")
      ->check(CLI::Range(std::size_t{1}, std::size_t{65536}))
      ->capture_default_str();
  app.add_option("--window", settings.window,
                 "events in flight before a publisher waits; 0: flood (PUB drops)")
      ->capture_default_str();
  app.add_option("--repeat", settings.repeat, "runs per measurement; the median is kept")
      ->check(CLI::Range(1, 21))
      ->capture_default_str();
  app.add_option("--max-seconds", settings.max_seconds, "time cap per run")->capture_default_str();
  app.add_option("--phase", settings.phase, "all, throughput or rtt")
      ->check(CLI::IsMember({"all", "throughput", "rtt"}))
      ->capture_default_str();
  app.add_flag("--cpu-breakdown", settings.cpu_breakdown,
               "print CPU per event for every thread of the throughput runs (stderr)");
  app.add_option("--bus", settings.bus_binary, "the mp-bus binary")->capture_default_str();
  app.add_option("--serve-raw-proxy", raw_proxy_dir, "(internal) run the raw zmq_proxy child");
  CLI11_PARSE(app, argc, argv);
  if (!raw_proxy_dir.empty()) return serve_raw_proxy(raw_proxy_dir);

  try {
    ScratchDir scratch;
    auto runtime_dir = scratch.path() / "bus";
    Child bus(settings.bus_binary, {"--runtime-dir", runtime_dir.string(), "--log-level", "warn"});
    Child proxy("/proc/self/exe", {"--serve-raw-proxy", scratch.path().string()});
    zmq::context_t context(1);
    auto endpoints = mp::bus::Endpoints::in_directory(runtime_dir);
    RawProxyEndpoints proxy_endpoints(scratch.path());
    wait_for_bus(context, endpoints);

    const bool throughput = settings.phase != "rtt", rtt = settings.phase != "throughput";
    const std::string raw_rep = "ipc://" + (scratch.path() / "raw-rep").string();
    Results r;
    for (int i = 0; i < settings.repeat; ++i) {
      if (throughput) {
        r.raw_tp.push_back(raw_throughput(context, scratch.path(), settings));
        r.ours_tp.push_back(bus_throughput(context, endpoints, bus.pid(), settings));
        r.proxy_tp.push_back(raw_proxy_throughput(context, proxy_endpoints, proxy.pid(), settings));
      } else {
        r.raw_tp.emplace_back();
        r.ours_tp.emplace_back();
        r.proxy_tp.emplace_back();
      }
      if (rtt) {
        r.raw_rtt.push_back(raw_round_trips(context, raw_rep, "", settings));
        r.ours_rtt.push_back(bus_round_trips(context, endpoints, settings));
        r.proxy_rtt.push_back(
            raw_round_trips(context, proxy_endpoints.workers, proxy_endpoints.requests, settings));
      } else {
        r.raw_rtt.emplace_back();
        r.ours_rtt.emplace_back();
        r.proxy_rtt.emplace_back();
      }
      std::fprintf(stderr,
                   "run %d: msg/s ours %.0f raw %.0f proxy %.0f; p99 us ours %.1f raw %.1f "
                   "proxy %.1f\n",
                   i + 1, r.ours_tp.back().messages_per_second, r.raw_tp.back().messages_per_second,
                   r.proxy_tp.back().messages_per_second, r.ours_rtt.back().p99_us,
                   r.raw_rtt.back().p99_us, r.proxy_rtt.back().p99_us);
    }
    r.framing = framing_cost(settings);
    print_report(settings, r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench-bus: %s\n", e.what());
    return 1;
  }
  return 0;
}
