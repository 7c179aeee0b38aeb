// One benchmark station: a headless FreeRDP 2 client on its own thread. It decodes everything
// into a software GDI buffer (32 bpp), counts frames that changed pixels, reads the bytes
// received from FreeRDP's transport statistics, and (when asked) measures input-to-pixel latency
// against mp-workload --react-key: send a key, time until the reaction square flips colour.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace mp::bench {

using Clock = std::chrono::steady_clock;

enum class Codec { remotefx, gfx, library_default };

struct StationOptions {
  std::string host = "127.0.0.1";
  int port = 3389;
  std::string user;
  std::string password;  // empty: none sent
  std::string client_name;
  int width = 1024;
  int height = 768;
  Codec codec = Codec::remotefx;
  // Latency probes: this many samples, spaced by gap_min..gap_max, each given up after timeout.
  int latency_samples = 0;
  std::chrono::milliseconds probe_gap_min{250};
  std::chrono::milliseconds probe_gap_max{400};
  std::chrono::milliseconds probe_timeout{2000};
  // How long the server may take from the connection to activation (the logon, a new desktop):
  // FreeRDP's TcpAckTimeout, 9 s by default, what `xfreerdp /timeout:` sets. A saturated machine
  // starting a desktop takes longer; both servers get the same.
  std::chrono::milliseconds activation_timeout{30000};
  std::uint16_t probe_scancode = 0x1E;  // 'a'
  // A failed connection is tried again, a second later, until then.
  Clock::time_point connect_until{};
  // The reaction square (see tools/workload/workload.h).
  int square_x = 0, square_y = 0, square_size = 64;
};

// The measurement window, shared by every station; set once all have tried to connect.
struct Window {
  std::atomic<std::int64_t> start_ns{0};  // 0: not yet known
  std::atomic<std::int64_t> end_ns{0};
  std::atomic<bool> stop{false};
};

struct StationResult {
  bool connected = false;
  std::string error;
  std::uint64_t frames = 0;           // frames that changed pixels, inside the window
  std::uint64_t bytes_in_window = 0;  // received, inside the window
  std::vector<double> latency_ms;     // one per answered probe
  int latency_lost = 0;               // probes with no reaction within the timeout
  double connect_seconds = 0;
  int connect_attempts = 0;
};

class StationClient {
 public:
  StationClient(StationOptions options, const Window& window);
  ~StationClient();
  StationClient(const StationClient&) = delete;
  StationClient& operator=(const StationClient&) = delete;

  void start();
  void join();
  bool attempted() const { return attempted_.load(); }     // connected or failed
  const StationResult& result() const { return result_; }  // after join()

  // FreeRDP callbacks (C entry points forward here; all on this station's thread).
  enum class Paint { nothing, square_only, content };
  void painted(Paint paint);
  const StationOptions& options() const { return options_; }
  void frame_marker(bool begin);
  bool pre_connect();
  bool post_connect();
  // What FreeRDP allocates for a connection: its context, then ours.
  struct Context;

 private:
  void run();
  // One connection attempt: true when connected (context_ is live), else context_ is freed.
  bool connect();
  void loop();
  void tick(Clock::time_point now);
  void frame_done(Clock::time_point now, bool content);
  int square_state() const;  // 0 black, 1 white, -1 neither (not drawn yet)
  bool in_window(Clock::time_point now) const;

  StationOptions options_;
  const Window& window_;
  StationResult result_;
  std::atomic<bool> attempted_{false};
  std::thread thread_;
  Context* context_ = nullptr;

  // Frame accounting: a frame bracketed by surface frame markers counts once, when it ends;
  // without markers every paint that changed pixels is a frame.
  bool in_marked_frame_ = false;
  bool marked_frame_painted_ = false;
  bool marked_frame_content_ = false;  // it changed pixels outside the reaction square
  // Window boundaries seen by this thread.
  bool window_open_ = false, window_closed_ = false;
  std::uint64_t bytes_at_start_ = 0;
  // Latency probing.
  bool probe_pending_ = false;
  int probe_from_state_ = -1;
  Clock::time_point probe_sent_{};
  Clock::time_point next_probe_{};
  std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;
};

}  // namespace mp::bench
