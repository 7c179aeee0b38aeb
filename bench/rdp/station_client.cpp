#include "station_client.h"

#include <freerdp/client.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/client/rdpgfx.h>
#include <freerdp/event.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/gdi/gfx.h>
#include <freerdp/input.h>
#include <freerdp/settings.h>
#include <winpr/synch.h>

#include <cstring>

namespace mp::bench {

namespace {

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// FreeRDP allocates the context (ContextSize bytes, zeroed); rdpContext must come first.
struct StationClient::Context {
  rdpContext base;
  StationClient* station;
  pSurfaceFrameMarker gdi_surface_frame_marker;  // GDI's handler: it sends frame acknowledgements
};

namespace {

StationClient* station_of(rdpContext* context) {
  return reinterpret_cast<StationClient::Context*>(context)->station;
}

BOOL on_begin_paint(rdpContext* context) {
  context->gdi->primary->hdc->hwnd->invalid->null = TRUE;
  return TRUE;
}

// What the last paints changed: nothing, only the reaction square, or more.
StationClient::Paint paint_of(rdpContext* context, const StationOptions& options) {
  const HGDI_RGN invalid = context->gdi->primary->hdc->hwnd->invalid;
  if (invalid->null) return StationClient::Paint::nothing;
  bool inside = invalid->x >= options.square_x && invalid->y >= options.square_y &&
                invalid->x + invalid->w <= options.square_x + options.square_size &&
                invalid->y + invalid->h <= options.square_y + options.square_size;
  return inside ? StationClient::Paint::square_only : StationClient::Paint::content;
}

BOOL on_end_paint(rdpContext* context) {
  StationClient* station = station_of(context);
  station->painted(paint_of(context, station->options()));
  return TRUE;
}

BOOL on_surface_frame_marker(rdpContext* context, const SURFACE_FRAME_MARKER* marker) {
  auto* own = reinterpret_cast<StationClient::Context*>(context);
  BOOL ok = own->gdi_surface_frame_marker ? own->gdi_surface_frame_marker(context, marker) : TRUE;
  // Pixels painted so far in this PDU belong to the frame that ends here (END), or to whatever
  // came before the frame (BEGIN); EndPaint must not count them again.
  own->station->painted(paint_of(context, own->station->options()));
  context->gdi->primary->hdc->hwnd->invalid->null = TRUE;
  own->station->frame_marker(marker->frameAction == SURFACECMD_FRAMEACTION_BEGIN);
  return ok;
}

void on_channel_connected(void* context, ChannelConnectedEventArgs* e) {
  auto* rdp = static_cast<rdpContext*>(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_init(rdp->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
  }
}

void on_channel_disconnected(void* context, ChannelDisconnectedEventArgs* e) {
  auto* rdp = static_cast<rdpContext*>(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_uninit(rdp->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
  }
}

BOOL on_pre_connect(freerdp* instance) { return station_of(instance->context)->pre_connect(); }
BOOL on_post_connect(freerdp* instance) { return station_of(instance->context)->post_connect(); }

void on_post_disconnect(freerdp* instance) {
  PubSub_UnsubscribeChannelConnected(instance->context->pubSub, on_channel_connected);
  PubSub_UnsubscribeChannelDisconnected(instance->context->pubSub, on_channel_disconnected);
  gdi_free(instance);
}

// The benchmark talks to servers on loopback with throwaway self-signed certificates.
DWORD accept_certificate(freerdp*, const char*, UINT16, const char*, const char*, const char*,
                         const char*, DWORD) {
  return 2;  // accept for this session only
}
DWORD accept_changed_certificate(freerdp*, const char*, UINT16, const char*, const char*,
                                 const char*, const char*, const char*, const char*, const char*,
                                 DWORD) {
  return 2;
}

BOOL on_client_new(freerdp* instance, rdpContext*) {
  instance->PreConnect = on_pre_connect;
  instance->PostConnect = on_post_connect;
  instance->PostDisconnect = on_post_disconnect;
  instance->VerifyCertificateEx = accept_certificate;
  instance->VerifyChangedCertificateEx = accept_changed_certificate;
  return TRUE;
}

}  // namespace

StationClient::StationClient(StationOptions options, const Window& window)
    : options_(std::move(options)), window_(window) {
  for (char c : options_.client_name) rng_ = rng_ * 31 + static_cast<unsigned char>(c);
}

StationClient::~StationClient() { join(); }

void StationClient::start() {
  thread_ = std::thread([this] { run(); });
}

void StationClient::join() {
  if (thread_.joinable()) thread_.join();
}

void StationClient::run() {
  auto connect_start = Clock::now();
  while (!connect()) {
    if (Clock::now() + std::chrono::seconds(1) >= options_.connect_until || window_.stop.load()) {
      attempted_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  result_.connected = true;
  result_.error.clear();
  result_.connect_seconds = std::chrono::duration<double>(Clock::now() - connect_start).count();
  attempted_ = true;
  loop();
  rdpContext* rdp = &context_->base;
  freerdp_disconnect(rdp->instance);
  freerdp_client_stop(rdp);
  freerdp_client_context_free(rdp);
  context_ = nullptr;
}

bool StationClient::connect() {
  ++result_.connect_attempts;
  RDP_CLIENT_ENTRY_POINTS entry{};
  entry.Version = RDP_CLIENT_INTERFACE_VERSION;
  entry.Size = sizeof(RDP_CLIENT_ENTRY_POINTS_V1);
  entry.ContextSize = sizeof(Context);
  entry.ClientNew = on_client_new;
  rdpContext* rdp = freerdp_client_context_new(&entry);
  if (rdp == nullptr) {
    result_.error = "freerdp_client_context_new failed";
    return false;
  }
  context_ = reinterpret_cast<Context*>(rdp);
  context_->station = this;
  rdpSettings* s = rdp->settings;
  freerdp_settings_set_string(s, FreeRDP_ServerHostname, options_.host.c_str());
  freerdp_settings_set_uint32(s, FreeRDP_ServerPort, static_cast<UINT32>(options_.port));
  if (!options_.user.empty())
    freerdp_settings_set_string(s, FreeRDP_Username, options_.user.c_str());
  if (!options_.password.empty()) {
    freerdp_settings_set_string(s, FreeRDP_Password, options_.password.c_str());
    freerdp_settings_set_bool(s, FreeRDP_AutoLogonEnabled, TRUE);  // xrdp logs on without a form
  }
  freerdp_settings_set_string(s, FreeRDP_ClientHostname, options_.client_name.c_str());
  freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(options_.width));
  freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(options_.height));
  freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32);
  freerdp_settings_set_bool(s, FreeRDP_SoftwareGdi, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_IgnoreCertificate, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, FALSE);  // TLS: what every server here offers
  freerdp_settings_set_uint32(s, FreeRDP_TcpAckTimeout,
                              static_cast<UINT32>(options_.activation_timeout.count()));
  switch (options_.codec) {
    case Codec::remotefx:  // xfreerdp -gfx /rfx: RemoteFX surface bits, no graphics pipeline
      freerdp_settings_set_bool(s, FreeRDP_SupportGraphicsPipeline, FALSE);
      freerdp_settings_set_bool(s, FreeRDP_RemoteFxCodec, TRUE);
      break;
    case Codec::gfx:  // graphics pipeline with RemoteFX (/gfx:rfx)
      freerdp_settings_set_bool(s, FreeRDP_SupportGraphicsPipeline, TRUE);
      freerdp_settings_set_bool(s, FreeRDP_GfxH264, FALSE);
      freerdp_settings_set_bool(s, FreeRDP_GfxAVC444, FALSE);
      freerdp_settings_set_bool(s, FreeRDP_RemoteFxCodec, TRUE);
      break;
    case Codec::library_default:
      break;
  }

  if (freerdp_client_start(rdp) == 0 && freerdp_connect(rdp->instance)) return true;
  UINT32 code = freerdp_get_last_error(rdp);
  result_.error = std::string("connect failed: ") + freerdp_get_last_error_string(code);
  freerdp_client_stop(rdp);
  freerdp_client_context_free(rdp);
  context_ = nullptr;
  return false;
}

bool StationClient::pre_connect() {
  rdpContext* rdp = &context_->base;
  rdp->settings->OsMajorType = OSMAJORTYPE_UNIX;
  rdp->settings->OsMinorType = OSMINORTYPE_NATIVE_XSERVER;
  PubSub_SubscribeChannelConnected(rdp->pubSub, on_channel_connected);
  PubSub_SubscribeChannelDisconnected(rdp->pubSub, on_channel_disconnected);
  // Channels only for the graphics pipeline: no sound, clipboard or drives to cost CPU.
  if (options_.codec != Codec::gfx) return true;
  return freerdp_client_load_addins(rdp->channels, rdp->settings) != FALSE;
}

bool StationClient::post_connect() {
  rdpContext* rdp = &context_->base;
  if (!gdi_init(rdp->instance, PIXEL_FORMAT_BGRX32)) return false;
  rdpUpdate* update = rdp->update;
  update->BeginPaint = on_begin_paint;
  update->EndPaint = on_end_paint;
  context_->gdi_surface_frame_marker = update->SurfaceFrameMarker;
  update->SurfaceFrameMarker = on_surface_frame_marker;
  return true;
}

void StationClient::loop() {
  rdpContext* rdp = &context_->base;
  HANDLE handles[64];
  while (!window_.stop.load() && !freerdp_shall_disconnect(rdp->instance)) {
    DWORD count = freerdp_get_event_handles(rdp, handles, 64);
    if (count == 0) {
      result_.error = "freerdp_get_event_handles failed";
      break;
    }
    // Short waits while probing: a probe is sent within a few ms of its time.
    DWORD wait_ms = options_.latency_samples > 0 ? 5 : 50;
    if (WaitForMultipleObjects(count, handles, FALSE, wait_ms) == WAIT_FAILED) {
      result_.error = "WaitForMultipleObjects failed";
      break;
    }
    if (!freerdp_check_event_handles(rdp)) {
      if (!window_closed_) {
        result_.error = std::string("disconnected: ") +
                        freerdp_get_last_error_string(freerdp_get_last_error(rdp));
      }
      break;
    }
    tick(Clock::now());
  }
}

bool StationClient::in_window(Clock::time_point now) const {
  std::int64_t start = window_.start_ns.load();
  if (start == 0) return false;
  std::int64_t t = ns_of(now);
  return t >= start && t < window_.end_ns.load();
}

void StationClient::tick(Clock::time_point now) {
  std::int64_t start = window_.start_ns.load();
  if (start == 0) return;
  std::int64_t t = ns_of(now);
  UINT64 bytes_in = 0;
  if (!window_open_ && t >= start) {
    window_open_ = true;
    freerdp_get_stats(context_->base.rdp, &bytes_in, nullptr, nullptr, nullptr);
    bytes_at_start_ = bytes_in;
    next_probe_ = now;
  }
  if (window_open_ && !window_closed_ && t >= window_.end_ns.load()) {
    window_closed_ = true;
    freerdp_get_stats(context_->base.rdp, &bytes_in, nullptr, nullptr, nullptr);
    result_.bytes_in_window = bytes_in - bytes_at_start_;
    probe_pending_ = false;
  }
  if (!window_open_ || window_closed_) return;

  int taken = static_cast<int>(result_.latency_ms.size()) + result_.latency_lost;
  if (probe_pending_ && now - probe_sent_ > options_.probe_timeout) {
    probe_pending_ = false;
    ++result_.latency_lost;
    next_probe_ = now;
  }
  if (!probe_pending_ && taken < options_.latency_samples && now >= next_probe_) {
    int state = square_state();
    if (state < 0) {
      next_probe_ = now + std::chrono::milliseconds(50);  // the square is not on screen yet
      return;
    }
    rdpInput* input = context_->base.input;
    probe_from_state_ = state;
    probe_sent_ = Clock::now();
    probe_pending_ = true;
    freerdp_input_send_keyboard_event(input, KBD_FLAGS_DOWN, options_.probe_scancode);
    freerdp_input_send_keyboard_event(input, KBD_FLAGS_RELEASE, options_.probe_scancode);
  }
}

int StationClient::square_state() const {
  const rdpGdi* gdi = context_->base.gdi;
  if (gdi == nullptr || gdi->primary_buffer == nullptr) return -1;
  int inset = options_.square_size / 4;
  int total = 0;
  int points = 0;
  for (int y : {options_.square_y + inset, options_.square_y + options_.square_size - inset}) {
    for (int x : {options_.square_x + inset, options_.square_x + options_.square_size - inset}) {
      if (x >= gdi->width || y >= gdi->height) return -1;
      const BYTE* p = gdi->primary_buffer + static_cast<std::size_t>(y) * gdi->stride +
                      static_cast<std::size_t>(x) * 4;
      total += p[0] + p[1] + p[2];  // BGRX
      points += 3;
    }
  }
  int mean = total / points;
  if (mean < 40) return 0;
  if (mean > 215) return 1;
  return -1;
}

void StationClient::frame_marker(bool begin) {
  if (begin) {
    in_marked_frame_ = true;
    marked_frame_painted_ = false;
    marked_frame_content_ = false;
    return;
  }
  in_marked_frame_ = false;
  if (marked_frame_painted_) frame_done(Clock::now(), marked_frame_content_);
  marked_frame_painted_ = false;
  marked_frame_content_ = false;
}

void StationClient::painted(Paint paint) {
  if (paint == Paint::nothing) return;
  if (in_marked_frame_) {
    marked_frame_painted_ = true;
    marked_frame_content_ |= paint == Paint::content;
  } else {
    frame_done(Clock::now(), paint == Paint::content);
  }
}

void StationClient::frame_done(Clock::time_point now, bool content) {
  // A frame that only flipped the reaction square is the probe's, not the workload's.
  if (content && in_window(now)) ++result_.frames;
  if (probe_pending_) {
    int state = square_state();
    if (state >= 0 && state != probe_from_state_) {
      probe_pending_ = false;
      result_.latency_ms.push_back(
          std::chrono::duration<double, std::milli>(now - probe_sent_).count());
      // Space the next probe by a varying gap, so probes do not lock onto the server's frame clock.
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      auto span = (options_.probe_gap_max - options_.probe_gap_min).count();
      auto gap = options_.probe_gap_min +
                 std::chrono::milliseconds(
                     span > 0 ? static_cast<long>(rng_ % static_cast<std::uint64_t>(span)) : 0);
      next_probe_ = now + gap;
    }
  }
}

}  // namespace mp::bench
