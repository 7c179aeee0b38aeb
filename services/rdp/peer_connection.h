// One RDP client, served on its own thread: FreeRDP's peer loop, the logon (refused before
// activation), screen capture and encoding paced by the client's frame acknowledgements, and
// input injection. Everything FreeRDP or Xlib is touched on this thread only; the bus is
// reached through the SessionGateway.
#pragma once

#include <freerdp/peer.h>
#include <winpr/synch.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "mp/lockscreen/lock_painter.h"
#include "session_gateway.h"
#include "tls_identity.h"

namespace mp::rdp {

class XConnection;
class ScreenCapture;
class InputInjector;
class SurfaceEncoder;
class ProjectionFeed;
class FeedRegistry;
struct Rect;
struct LogonOutcome;

// Another display a station shows instead of its own (projection), as StationShow asked.
struct ShownDisplay {
  std::string display;
  std::string xauthority;
  std::string source;     // the station it belongs to, for logs
  bool view_only = true;  // the station's keyboard and mouse reach nothing meanwhile
  bool operator==(const ShownDisplay&) const = default;
};

struct PeerOptions {
  TlsIdentity tls;
  int max_fps = 30;
  // A client that has not finished connecting by then is dropped (slow or stuck handshakes
  // would otherwise hold a peer slot forever).
  std::chrono::seconds handshake_timeout{20};
  // How long a connecting client waits for mp-session (e.g. while it restarts).
  // xfreerdp gives up on a connection after 9 s (TcpAckTimeout): stay below that.
  std::chrono::seconds session_wait{8};
  // Projections, shared by every peer (null: projection refused).
  std::shared_ptr<FeedRegistry> feeds;
  // Draws the lock of a blocked station, shared by every peer (null: a plain dark screen).
  std::shared_ptr<mp::lockscreen::LockPainter> lock_painter;
};

class PeerConnection {
 public:
  // Takes ownership of `peer` (freed on the peer's thread when it ends).
  PeerConnection(freerdp_peer* peer, PeerId id, SessionGateway& gateway, PeerOptions options);
  ~PeerConnection();  // asks the thread to stop and joins it
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  void start();
  // Any thread: the peer disconnects at its next wake-up (at once: the wait is interrupted).
  void request_close();
  // Any thread: show `display` instead of the station's own (projection), or with nullopt its
  // own again. Applied once the client is active; a later call replaces an earlier one.
  void show(std::optional<ShownDisplay> display);
  // Any thread: the operator ends this connection. The client is told so (error info), which
  // keeps it from reconnecting by itself; the session stays.
  void disconnect_by_operator();
  // Any thread: the station is blocked (with the teacher's message) or, with nullopt, not. While
  // blocked the client sees mp-rdp's own lock picture, never the session's screen, and its
  // keyboard and mouse reach nothing; a projection is still shown over it.
  void lock(std::optional<std::string> message);
  PeerId id() const { return id_; }
  const std::string& address() const { return address_; }

 private:
  friend struct PeerCallbacks;  // FreeRDP's C callbacks, defined in the .cpp

  void run();
  bool configure();
  void serve();
  void teardown();
  bool authorize();
  bool open_display(const LogonOutcome& logon);
  bool activate();
  bool send_frame_if_due();
  DWORD wait_timeout_ms() const;
  bool frame_due(std::chrono::steady_clock::time_point now) const;
  void frame_sent(std::chrono::steady_clock::time_point now);
  bool has_frame_to_send() const;

  // Projection (peer thread).
  void apply_show();
  void end_projection();
  void resize_client(int width, int height);
  bool input_blocked() const {
    return locked_.has_value() || (projection_ && projection_->shown.view_only);
  }
  void refresh(const Rect& area);

  // The transport-drawn lock (peer thread).
  void apply_lock();
  bool showing_lock() const { return locked_.has_value() && !projection_; }
  bool send_lock_picture();
  // Tells the gateway what the client now sees, when that changed.
  void report_screen();

  freerdp_peer* peer_;
  PeerId id_;
  SessionGateway& gateway_;
  PeerOptions options_;
  std::string address_;
  std::thread thread_;
  std::atomic<bool> close_requested_{false};
  HANDLE wake_event_ = nullptr;
  // When the client's handshake time started: at accept, and again once the logon is through —
  // the time mp-session takes to start a desktop is ours, not the client's.
  std::chrono::steady_clock::time_point handshake_since_;

  std::string station_key_;
  bool attached_ = false;
  bool authorized_ = false;
  std::unique_ptr<XConnection> x_;
  std::unique_ptr<ScreenCapture> capture_;
  std::unique_ptr<InputInjector> input_;
  std::unique_ptr<SurfaceEncoder> encoder_;
  HANDLE x_event_ = nullptr;

  HANDLE mail_event_ = nullptr;  // auto-reset: a show request or a projected frame waits
  std::mutex show_mutex_;
  std::optional<std::optional<ShownDisplay>> show_request_;  // guarded by show_mutex_
  std::atomic<bool> operator_disconnect_{false};
  struct Projection {
    std::shared_ptr<ProjectionFeed> feed;
    std::uint64_t watcher = 0;
    ShownDisplay shown;
  };
  std::optional<Projection> projection_;

  std::mutex lock_mutex_;
  std::optional<std::optional<std::string>> lock_request_;  // guarded by lock_mutex_
  std::optional<std::string> locked_;  // the lock's message while the station is blocked
  bool lock_dirty_ = false;            // the lock picture must be (re)sent
  std::optional<std::pair<ScreenShown, std::string>> reported_;

  bool activated_ = false;
  bool ever_activated_ = false;  // a resize deactivates for a moment; the handshake is over
  bool output_suppressed_ = false;
  std::chrono::steady_clock::duration frame_period_;
  std::chrono::steady_clock::time_point last_frame_at_{};
  std::chrono::steady_clock::time_point last_input_at_{};
  // Shorter than one frame period: the answer to a key comes within a few ms, and a longer
  // window only sends the regular frames early, i.e. more frames (60 ms gave 31.6 fps).
  static constexpr std::chrono::milliseconds kInputBoost{30};
  static constexpr std::chrono::milliseconds kBoostedPeriod{8};
  std::chrono::steady_clock::duration period(std::chrono::steady_clock::time_point now) const;
  std::uint32_t next_frame_id_ = 1;
  std::uint32_t last_acked_frame_ = 0;
  std::uint32_t max_unacknowledged_ = 0;  // 0: the client does not acknowledge frames
  std::uint64_t frames_sent_ = 0;
};

}  // namespace mp::rdp
