#include "peer_connection.h"

#include <freerdp/constants.h>
#include <freerdp/error.h>
#include <freerdp/freerdp.h>
#include <freerdp/input.h>
#include <freerdp/update.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "input_injector.h"
#include "projection_feed.h"
#include "screen_capture.h"
#include "station_identity.h"
#include "surface_encoder.h"
#include "x_connection.h"

namespace mp::rdp {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::string setting_text(const char* value, std::size_t max) {
  return value == nullptr ? std::string() : std::string(value, strnlen(value, max));
}

// Overwrites a secret FreeRDP keeps in its settings, so it does not linger in memory.
void wipe(char*& secret) {
  if (secret == nullptr) return;
  volatile char* p = secret;
  while (*p != 0) *p++ = 0;
  std::free(secret);
  secret = nullptr;
}

}  // namespace

// FreeRDP calls these on the peer's thread, from inside CheckFileDescriptor.
struct PeerCallbacks {
  static PeerConnection* of(freerdp_peer* peer) {
    return static_cast<PeerConnection*>(peer->ContextExtra);
  }
  static PeerConnection* of(rdpContext* context) { return of(context->peer); }

  static BOOL capabilities(freerdp_peer* peer) { return of(peer)->authorize() ? TRUE : FALSE; }

  static BOOL post_connect(freerdp_peer* peer) {
    // Credentials were checked in Capabilities: a refused client never gets this far.
    return of(peer)->authorized_ ? TRUE : FALSE;
  }

  static BOOL activate(freerdp_peer* peer) { return of(peer)->activate() ? TRUE : FALSE; }

  static BOOL keyboard(rdpInput* input, UINT16 flags, UINT16 code) {
    auto* self = of(input->context);
    if (self->input_blocked()) return TRUE;
    if (self->input_) self->input_->keyboard(flags, code);
    self->last_input_at_ = Clock::now();
    return TRUE;
  }

  static BOOL unicode(rdpInput* input, UINT16 flags, UINT16 code) {
    auto* self = of(input->context);
    if (self->input_blocked()) return TRUE;
    if (self->input_) self->input_->unicode(flags, code);
    self->last_input_at_ = Clock::now();
    return TRUE;
  }

  static BOOL mouse(rdpInput* input, UINT16 flags, UINT16 x, UINT16 y) {
    auto* self = of(input->context);
    if (self->input_blocked()) return TRUE;
    if (self->input_) self->input_->mouse(flags, x, y);
    if (flags & PTR_FLAGS_DOWN) self->last_input_at_ = Clock::now();
    return TRUE;
  }

  static BOOL extended_mouse(rdpInput* input, UINT16 flags, UINT16 x, UINT16 y) {
    auto* self = of(input->context);
    if (self->input_blocked()) return TRUE;
    if (self->input_) self->input_->extended_mouse(flags, x, y);
    return TRUE;
  }

  static BOOL synchronize(rdpInput*, UINT32) { return TRUE; }  // lock keys: not mirrored yet

  static BOOL refresh_rect(rdpContext* context, BYTE count, const RECTANGLE_16* areas) {
    auto* self = of(context);
    if (!self->capture_) return TRUE;
    if (self->showing_lock()) {
      self->lock_dirty_ = true;
      return TRUE;
    }
    if (count == 0 || areas == nullptr) {
      self->refresh({0, 0, 65535, 65535});
      return TRUE;
    }
    for (BYTE i = 0; i < count; ++i) {
      const auto& a = areas[i];
      if (a.right < a.left || a.bottom < a.top) continue;  // inclusive bounds from the client
      self->refresh({a.left, a.top, a.right - a.left + 1, a.bottom - a.top + 1});
    }
    return TRUE;
  }

  static BOOL suppress_output(rdpContext* context, BYTE allow, const RECTANGLE_16*) {
    auto* self = of(context);
    self->output_suppressed_ = allow == 0;
    if (allow != 0 && self->showing_lock()) self->lock_dirty_ = true;
    if (allow != 0 && self->capture_) self->refresh({0, 0, 65535, 65535});  // minimised meanwhile
    return TRUE;
  }

  static BOOL frame_acknowledge(rdpContext* context, UINT32 frame_id) {
    of(context)->last_acked_frame_ = frame_id;
    return TRUE;
  }

  // Static channels the client joined (clipboard, sound, ...) are not served; their data is
  // accepted and dropped rather than ending the connection.
  static BOOL channel_data(freerdp_peer*, UINT16, const BYTE*, size_t, UINT32, size_t) {
    return TRUE;
  }
};

PeerConnection::PeerConnection(freerdp_peer* peer, PeerId id, SessionGateway& gateway,
                               PeerOptions options)
    : peer_(peer),
      id_(id),
      gateway_(gateway),
      options_(std::move(options)),
      address_(setting_text(peer->hostname, sizeof(peer->hostname))),
      handshake_since_(Clock::now()),
      frame_period_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / std::clamp(options_.max_fps, 1, 120)))) {
  wake_event_ = CreateEvent(nullptr, TRUE, FALSE, nullptr);
  mail_event_ = CreateEvent(nullptr, FALSE, FALSE, nullptr);
}

PeerConnection::~PeerConnection() {
  request_close();
  if (thread_.joinable()) thread_.join();
  if (wake_event_) CloseHandle(wake_event_);
  if (mail_event_) CloseHandle(mail_event_);
}

void PeerConnection::start() {
  thread_ = std::thread([this] { run(); });
}

void PeerConnection::request_close() {
  close_requested_ = true;
  if (wake_event_) SetEvent(wake_event_);
}

void PeerConnection::show(std::optional<ShownDisplay> display) {
  {
    std::lock_guard lock(show_mutex_);
    show_request_ = std::move(display);
  }
  if (mail_event_) SetEvent(mail_event_);
}

void PeerConnection::disconnect_by_operator() {
  operator_disconnect_ = true;
  if (mail_event_) SetEvent(mail_event_);
}

void PeerConnection::lock(std::optional<std::string> message) {
  {
    std::lock_guard lock(lock_mutex_);
    lock_request_ = std::move(message);
  }
  if (mail_event_) SetEvent(mail_event_);
}

void PeerConnection::run() {
  if (configure()) serve();
  teardown();
  gateway_.finished(id_);
}

bool PeerConnection::configure() {
  peer_->ContextExtra = this;
  if (!freerdp_peer_context_new(peer_)) {
    spdlog::error("client {}: cannot create a FreeRDP context", address_);
    return false;
  }
  rdpSettings* settings = peer_->settings;
  // Settings go in before Initialize. TLS only: standard RDP security is obsolete and NLA
  // would need the password hash on this side.
  settings->CertificateFile = _strdup(options_.tls.certificate.c_str());
  settings->PrivateKeyFile = _strdup(options_.tls.private_key.c_str());
  settings->RdpSecurity = FALSE;
  settings->TlsSecurity = TRUE;
  settings->NlaSecurity = FALSE;
  settings->ExtSecurity = FALSE;
  settings->UseRdpSecurityLayer = FALSE;
  settings->ColorDepth = 32;
  settings->RemoteFxCodec = TRUE;
  settings->NSCodec = TRUE;
  settings->SurfaceCommandsEnabled = TRUE;
  settings->SurfaceFrameMarkerEnabled = TRUE;
  settings->FrameMarkerCommandEnabled = TRUE;
  settings->SupportGraphicsPipeline = FALSE;  // no GFX channel: surface bits and bitmaps only
  settings->GfxH264 = FALSE;
  settings->DrawAllowSkipAlpha = TRUE;
  settings->DrawAllowColorSubsampling = FALSE;
  settings->DrawAllowDynamicColorFidelity = FALSE;  // planar colours swap otherwise
  settings->SuppressOutput = TRUE;
  settings->RefreshRect = TRUE;
  settings->AutoReconnectionEnabled = TRUE;
  settings->SupportMonitorLayoutPdu = FALSE;
  if (!settings->CertificateFile || !settings->PrivateKeyFile) return false;

  peer_->Capabilities = PeerCallbacks::capabilities;
  peer_->PostConnect = PeerCallbacks::post_connect;
  peer_->Activate = PeerCallbacks::activate;
  peer_->ReceiveChannelData = PeerCallbacks::channel_data;
  peer_->input->KeyboardEvent = PeerCallbacks::keyboard;
  peer_->input->UnicodeKeyboardEvent = PeerCallbacks::unicode;
  peer_->input->MouseEvent = PeerCallbacks::mouse;
  peer_->input->ExtendedMouseEvent = PeerCallbacks::extended_mouse;
  peer_->input->SynchronizeEvent = PeerCallbacks::synchronize;
  if (!peer_->Initialize(peer_)) {
    spdlog::warn("client {}: FreeRDP peer initialisation failed", address_);
    return false;
  }
  peer_->update->RefreshRect = PeerCallbacks::refresh_rect;
  peer_->update->SuppressOutput = PeerCallbacks::suppress_output;
  peer_->update->SurfaceFrameAcknowledge = PeerCallbacks::frame_acknowledge;
  return true;
}

bool PeerConnection::authorize() {
  if (authorized_) return true;  // a reactivation: already checked
  rdpSettings* settings = peer_->settings;
  std::string client_name = printable(setting_text(settings->ClientHostname, 64), 64);
  StationDescription station;
  station.key = station_key_for(client_name);
  station.client_name = client_name;
  station.address = address_;
  auto size = clamp_desktop(settings->DesktopWidth, settings->DesktopHeight);
  station.width = size.width;
  station.height = size.height;
  station_key_ = station.key;

  spdlog::info("client {} ({}) connecting as station {}, asks {}x{}", address_, client_name,
               station.key, settings->DesktopWidth, settings->DesktopHeight);
  // While mp-session restarts, the client waits here rather than being bounced.
  auto give_up_at = Clock::now() + options_.session_wait;

  std::string user = printable(setting_text(settings->Username, 256), 256);
  std::string password = setting_text(settings->Password, 1024);
  wipe(settings->Password);
  if (user.empty() || password.empty()) {
    // There is no logon screen to fall back to: credentials come with the connection.
    spdlog::warn("logon refused on station {} from {}: no user name or password sent", station.key,
                 address_);
    return false;
  }
  LogonOutcome logon;
  while (true) {
    logon = gateway_.logon(id_, station, user, password, close_requested_);
    if (logon.result != LogonOutcome::Result::unavailable || close_requested_ ||
        Clock::now() >= give_up_at) {
      break;
    }
    WaitForSingleObject(wake_event_, 500);
  }
  std::fill(password.begin(), password.end(), '\0');
  if (logon.result != LogonOutcome::Result::accepted) return false;  // the gateway logged why
  attached_ = true;  // mp-session stored the station with the logon; this peer holds it
  if (!open_display(logon)) return false;

  // The session's display decides the desktop size; the client adapts its window.
  settings->DesktopWidth = static_cast<UINT32>(capture_->width());
  settings->DesktopHeight = static_cast<UINT32>(capture_->height());
  authorized_ = true;
  handshake_since_ = Clock::now();
  return true;
}

bool PeerConnection::open_display(const LogonOutcome& logon) {
  try {
    x_ = std::make_unique<XConnection>(logon.display, logon.xauthority);
    capture_ = std::make_unique<ScreenCapture>(*x_);
    input_ = std::make_unique<InputInjector>(x_->get(), capture_->width(), capture_->height());
  } catch (const std::exception& e) {
    spdlog::error("station {}: session display {} unusable: {}", station_key_, logon.display,
                  e.what());
    input_.reset();
    capture_.reset();
    x_.reset();
    return false;
  }
  x_event_ = CreateFileDescriptorEvent(nullptr, FALSE, FALSE, capture_->fd(), WINPR_FD_READ);
  spdlog::info("station {}: serving display {} ({}x{}{})", station_key_, logon.display,
               capture_->width(), capture_->height(), capture_->uses_shm() ? ", MIT-SHM" : "");
  return x_event_ != nullptr;
}

bool PeerConnection::activate() {
  if (!authorized_ || !capture_) return false;
  rdpSettings* settings = peer_->settings;
  try {
    // The desktop size the client agreed to: the display's, or a projection's after a resize.
    encoder_ = std::make_unique<SurfaceEncoder>(peer_, static_cast<int>(settings->DesktopWidth),
                                                static_cast<int>(settings->DesktopHeight));
  } catch (const std::exception& e) {
    spdlog::warn("station {}: {}", station_key_, e.what());
    return false;
  }
  max_unacknowledged_ =
      encoder_->frame_markers() ? std::min<std::uint32_t>(settings->FrameAcknowledge, 4) : 0;
  last_acked_frame_ = next_frame_id_ - 1;
  activated_ = true;
  ever_activated_ = true;
  lock_dirty_ = locked_.has_value();
  if (projection_) {
    projection_->feed->refresh({0, 0, 65535, 65535});
  } else {
    capture_->invalidate_all();
  }
  spdlog::info("station {} active: {}x{}, {}, frame acknowledgements {}", station_key_,
               settings->DesktopWidth, settings->DesktopHeight,
               SurfaceEncoder::name(encoder_->codec()),
               max_unacknowledged_ ? std::to_string(max_unacknowledged_) + " in flight" : "off");
  return true;
}

bool PeerConnection::has_frame_to_send() const {
  if (projection_) return projection_->feed->has_frame(projection_->watcher);
  if (locked_) return lock_dirty_;
  return capture_ && capture_->has_damage();
}

DWORD PeerConnection::wait_timeout_ms() const {
  if (!activated_ || output_suppressed_ || !has_frame_to_send()) return 1000;
  if (max_unacknowledged_ != 0 && next_frame_id_ - 1 - last_acked_frame_ >= max_unacknowledged_) {
    return 100;  // an acknowledgement wakes us through the socket; this is a safety net
  }
  auto now = Clock::now();
  auto due = last_frame_at_ + period(now);
  if (due <= now) return 0;
  return static_cast<DWORD>(
      std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count() + 1);
}

bool PeerConnection::frame_due(Clock::time_point now) const {
  if (now < last_frame_at_ + period(now)) return false;
  std::uint32_t in_flight = next_frame_id_ - 1 - last_acked_frame_;
  // A client that stops acknowledging (some do while minimised) is not waited for forever.
  return max_unacknowledged_ == 0 || in_flight < max_unacknowledged_ || now - last_frame_at_ >= 1s;
}

void PeerConnection::frame_sent(Clock::time_point now) {
  ++next_frame_id_;
  ++frames_sent_;
  // On a fixed grid, so that the wake-up's rounding does not stretch every period (30 fps
  // came out as 29.2); after a pause the grid restarts from now.
  auto period = this->period(now);
  auto on_grid = last_frame_at_ + period;
  last_frame_at_ = now - on_grid < period ? on_grid : now;
}

bool PeerConnection::send_frame_if_due() {
  if (!activated_ || output_suppressed_ || !encoder_ || !has_frame_to_send()) return true;
  auto now = Clock::now();
  if (!frame_due(now)) return true;
  bool sent = false;
  if (showing_lock()) {
    sent = send_lock_picture();
  } else if (projection_) {
    // Encoded once by the feed for every station that shows it.
    auto frame = projection_->feed->take(projection_->watcher);
    if (!frame) return true;
    sent = encoder_->send_encoded(*frame, next_frame_id_);
  } else {
    auto areas = capture_->grab();
    if (areas.empty()) return true;
    sent = encoder_->send(capture_->frame(), capture_->stride(), areas, next_frame_id_);
  }
  if (!sent) {
    spdlog::info("station {}: sending a frame failed, disconnecting", station_key_);
    return false;
  }
  frame_sent(now);
  report_screen();
  return true;
}

bool PeerConnection::send_lock_picture() {
  rdpSettings* settings = peer_->settings;
  int width = static_cast<int>(settings->DesktopWidth);
  int height = static_cast<int>(settings->DesktopHeight);
  std::shared_ptr<const mp::lockscreen::Picture> picture;
  if (options_.lock_painter) {
    try {
      picture = options_.lock_painter->paint(width, height, {.message = *locked_});
    } catch (const std::exception& e) {
      spdlog::error("station {}: cannot draw the lock: {}", station_key_, e.what());
    }
  }
  if (!picture || picture->width != width || picture->height != height) {
    // No painter (or it failed): still nothing of the session shows.
    auto dark = std::make_shared<mp::lockscreen::Picture>();
    dark->width = width;
    dark->height = height;
    dark->pixels.assign(static_cast<std::size_t>(width) * height * 4, 0);
    picture = std::move(dark);
  }
  lock_dirty_ = false;
  return encoder_->send(picture->pixels.data(), width * 4, {Rect{0, 0, width, height}},
                        next_frame_id_);
}

void PeerConnection::apply_lock() {
  std::optional<std::optional<std::string>> request;
  {
    std::lock_guard lock(lock_mutex_);
    request = std::move(lock_request_);
    lock_request_.reset();
  }
  if (!request || *request == locked_) return;
  bool was_locked = locked_.has_value();
  locked_ = std::move(*request);
  if (locked_) {
    // Nothing the student holds down goes on acting in the session meanwhile.
    if (input_) input_->release_all();
    lock_dirty_ = true;
    spdlog::info("station {} locked{}", station_key_, was_locked ? " (new message)" : "");
  } else {
    spdlog::info("station {} unlocked", station_key_);
    lock_dirty_ = false;
    if (!projection_ && capture_) capture_->invalidate_all();
  }
}

void PeerConnection::report_screen() {
  ScreenShown shown = showing_lock() ? ScreenShown::lock
                      : projection_  ? ScreenShown::projection
                                     : ScreenShown::desktop;
  std::string message = shown == ScreenShown::lock ? *locked_ : std::string();
  if (reported_ && reported_->first == shown && reported_->second == message) return;
  reported_ = {shown, message};
  gateway_.screen_shown(id_, station_key_, shown, message);
}

void PeerConnection::refresh(const Rect& area) {
  if (projection_) {
    projection_->feed->refresh(area);
  } else if (capture_) {
    capture_->invalidate(area);  // clipped to the screen there
  }
}

void PeerConnection::apply_show() {
  if (!activated_ || !encoder_) return;  // applied at the next activation
  std::optional<ShownDisplay> wanted;
  {
    std::lock_guard lock(show_mutex_);
    if (!show_request_) return;
    wanted = std::move(*show_request_);
    show_request_.reset();
  }
  if (!wanted) {
    end_projection();
    return;
  }
  if (projection_ && projection_->shown.display == wanted->display) {
    projection_->shown = *wanted;
    return;
  }
  if (!options_.feeds || encoder_->codec() == SurfaceEncoder::Codec::planar) {
    spdlog::warn("station {}: cannot show {}: projection needs a client with RemoteFX or NSCodec",
                 station_key_, wanted->source);
    return;
  }
  FeedCodec codec = encoder_->codec() == SurfaceEncoder::Codec::remotefx ? FeedCodec::remotefx
                                                                         : FeedCodec::nscodec;
  std::shared_ptr<ProjectionFeed> feed;
  try {
    feed = options_.feeds->acquire(wanted->display, wanted->xauthority);
  } catch (const std::exception& e) {
    spdlog::warn("station {}: cannot show {} ({}): {}", station_key_, wanted->source,
                 wanted->display, e.what());
    return;
  }
  rdpSettings* settings = peer_->settings;
  bool same_size = feed->width() == static_cast<int>(settings->DesktopWidth) &&
                   feed->height() == static_cast<int>(settings->DesktopHeight);
  if (!same_size && !settings->DesktopResize) {
    spdlog::warn("station {}: cannot show {}: its size {}x{} differs and the client cannot resize",
                 station_key_, wanted->source, feed->width(), feed->height());
    return;
  }
  if (projection_) projection_->feed->unwatch(projection_->watcher);
  projection_ =
      Projection{.feed = feed, .watcher = feed->watch(mail_event_, codec), .shown = *wanted};
  spdlog::info("station {} shows {} ({}{})", station_key_, wanted->source, wanted->display,
               wanted->view_only ? ", its own input blocked" : "");
  if (!same_size) resize_client(feed->width(), feed->height());
}

void PeerConnection::end_projection() {
  if (!projection_) return;
  projection_->feed->unwatch(projection_->watcher);
  spdlog::info("station {} shows its own {} again", station_key_, locked_ ? "lock" : "desktop");
  projection_.reset();
  lock_dirty_ = locked_.has_value();
  rdpSettings* settings = peer_->settings;
  if (capture_->width() != static_cast<int>(settings->DesktopWidth) ||
      capture_->height() != static_cast<int>(settings->DesktopHeight)) {
    resize_client(capture_->width(), capture_->height());
  } else {
    capture_->invalidate_all();
  }
}

void PeerConnection::resize_client(int width, int height) {
  // The client answers with a new activation (activate() makes an encoder for the new size);
  // nothing is sent until then.
  rdpSettings* settings = peer_->settings;
  settings->DesktopWidth = static_cast<UINT32>(width);
  settings->DesktopHeight = static_cast<UINT32>(height);
  activated_ = false;
  encoder_.reset();
  peer_->update->DesktopResize(peer_->update->context);
}

std::chrono::steady_clock::duration PeerConnection::period(Clock::time_point now) const {
  // Right after a key or a click the answer on screen is what the user waits for: for a short
  // while frames go out as soon as damage is there (at most every 8 ms), not on the next tick.
  if (now - last_input_at_ < kInputBoost)
    return std::min<Clock::duration>(frame_period_, kBoostedPeriod);
  return frame_period_;
}

void PeerConnection::serve() {
  while (!close_requested_) {
    HANDLE handles[MAXIMUM_WAIT_OBJECTS];
    DWORD count = peer_->GetEventHandles(peer_, handles, MAXIMUM_WAIT_OBJECTS - 3);
    if (count == 0) {
      spdlog::warn("client {}: no transport handles", address_);
      break;
    }
    handles[count++] = wake_event_;
    handles[count++] = mail_event_;
    if (x_event_) handles[count++] = x_event_;
    DWORD status = WaitForMultipleObjects(count, handles, FALSE, wait_timeout_ms());
    if (status == WAIT_FAILED) break;
    if (close_requested_) break;
    if (!peer_->CheckFileDescriptor(peer_)) break;  // client gone, or bad data: FreeRDP logged
    if (capture_) {
      if (x_->broken()) {
        spdlog::warn("station {}: display {} went away, disconnecting", station_key_, x_->name());
        break;
      }
      capture_->process_events();
    }
    if (operator_disconnect_) {
      spdlog::info("station {}: disconnected by the operator", station_key_);
      // With an error info the client knows it was meant and does not reconnect by itself.
      freerdp_set_error_info(peer_->context->rdp, ERRINFO_RPC_INITIATED_DISCONNECT);
      peer_->Close(peer_);
      break;
    }
    if (projection_ && projection_->feed->broken()) {
      spdlog::warn("station {}: the projected display went away", station_key_);
      end_projection();
    }
    apply_show();
    apply_lock();
    if (!ever_activated_ && Clock::now() - handshake_since_ > options_.handshake_timeout) {
      spdlog::warn("client {}: not connected after {} s, dropped", address_,
                   options_.handshake_timeout.count());
      break;
    }
    if (!send_frame_if_due()) break;
  }
}

void PeerConnection::teardown() {
  if (frames_sent_ > 0 || attached_) {
    spdlog::info("client {} on station {} disconnected ({} frames, {} KB)", address_,
                 station_key_.empty() ? "-" : station_key_, frames_sent_,
                 encoder_ ? encoder_->bytes_sent() / 1024 : 0);
  }
  if (attached_) gateway_.detach(id_, station_key_);
  // X resources belong to this thread: release them here, keys and buttons first.
  if (projection_) projection_->feed->unwatch(projection_->watcher);
  projection_.reset();
  encoder_.reset();
  input_.reset();
  capture_.reset();
  if (x_event_) CloseHandle(x_event_);
  x_event_ = nullptr;
  x_.reset();
  if (peer_->context) {
    peer_->Disconnect(peer_);
    freerdp_peer_context_free(peer_);
  }
  freerdp_peer_free(peer_);
  peer_ = nullptr;
}

}  // namespace mp::rdp
