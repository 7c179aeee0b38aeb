#include "screen_capture.h"

#include <X11/Xutil.h>
#include <X11/extensions/Xfixes.h>
#include <spdlog/spdlog.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace mp::rdp {

namespace {

// Beyond this many separate areas, one bounding box costs less than many small updates.
constexpr std::size_t kMaxPendingRects = 16;

Rect bounding(const Rect& a, const Rect& b) {
  int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
  int x1 = std::max(a.x + a.width, b.x + b.width), y1 = std::max(a.y + a.height, b.y + b.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

bool touches(const Rect& a, const Rect& b) {
  return a.x <= b.x + b.width && b.x <= a.x + a.width && a.y <= b.y + b.height &&
         b.y <= a.y + a.height;
}

}  // namespace

ScreenCapture::ScreenCapture(XConnection& x) : x_(x) {
  Display* display = x_.get();
  int screen = DefaultScreen(display);
  root_ = RootWindow(display, screen);
  width_ = DisplayWidth(display, screen);
  height_ = DisplayHeight(display, screen);
  visual_ = DefaultVisual(display, screen);
  depth_ = DefaultDepth(display, screen);
  if (visual_->c_class != TrueColor || (depth_ != 24 && depth_ != 32) ||
      visual_->red_mask != 0xff0000 || visual_->green_mask != 0xff00 ||
      visual_->blue_mask != 0xff) {
    throw std::runtime_error("display " + x_.name() + " is not 24-bit TrueColor (depth " +
                             std::to_string(depth_) + ")");
  }
  if (width_ <= 0 || height_ <= 0 || width_ > 8192 || height_ > 8192) {
    throw std::runtime_error("display " + x_.name() + " has an unusable size");
  }
  int error_base = 0;
  if (!XDamageQueryExtension(display, &damage_event_base_, &error_base)) {
    throw std::runtime_error("display " + x_.name() + " has no DAMAGE extension");
  }
  int fixes_event = 0, fixes_error = 0;
  if (!XFixesQueryExtension(display, &fixes_event, &fixes_error)) {
    throw std::runtime_error("display " + x_.name() + " has no XFIXES extension");
  }
  frame_.assign(static_cast<std::size_t>(width_) * height_ * 4, 0);
  damage_ = XDamageCreate(display, root_, XDamageReportNonEmpty);
  parts_ = XFixesCreateRegion(display, nullptr, 0);
  shm_attached_ = attach_shm();
  if (!shm_attached_) spdlog::warn("{}: no MIT-SHM, capturing with XGetImage", x_.name());
  XSync(display, False);
  invalidate_all();
}

ScreenCapture::~ScreenCapture() {
  Display* display = x_.get();
  if (!x_.broken()) {
    if (damage_) XDamageDestroy(display, damage_);
    if (parts_) XFixesDestroyRegion(display, parts_);
    if (shm_attached_) XShmDetach(display, &shm_);
    XSync(display, False);
  }
  if (shm_.shmaddr != nullptr && shm_.shmaddr != reinterpret_cast<char*>(-1)) shmdt(shm_.shmaddr);
}

bool ScreenCapture::attach_shm() {
  Display* display = x_.get();
  if (!XShmQueryExtension(display)) return false;
  std::size_t size = static_cast<std::size_t>(width_) * height_ * 4;
  shm_.shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
  if (shm_.shmid < 0) return false;
  shm_.shmaddr = static_cast<char*>(shmat(shm_.shmid, nullptr, 0));
  give_segment_to_server();
  // Marked for removal now: it goes away when both sides detach, even if we crash.
  shmctl(shm_.shmid, IPC_RMID, nullptr);
  if (shm_.shmaddr == reinterpret_cast<char*>(-1)) {
    shm_.shmaddr = nullptr;
    return false;
  }
  shm_.readOnly = False;
  take_x_error();
  XShmAttach(display, &shm_);
  XSync(display, False);
  // The X server refuses when it cannot reach our segment (another host, another IPC namespace).
  return take_x_error() == 0;
}

// A session's X server runs as the session's user, mp-rdp as its own user (or root): the server
// could not attach a segment of ours mode 0600, and capture would fall back to XGetImage (a copy
// through the socket). The segment is handed to the server's own uid (from the socket's peer
// credentials), still mode 0600: only that user, whose screen it holds, and root can read it.
// No privilege needed: a segment's creator may change its owner, and keeps attaching, detaching
// and removing it (tests/rdp RdpUser.*).
void ScreenCapture::give_segment_to_server() {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (getsockopt(ConnectionNumber(x_.get()), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return;
  if (peer.uid == geteuid()) return;
  shmid_ds segment{};
  if (shmctl(shm_.shmid, IPC_STAT, &segment) != 0) return;
  segment.shm_perm.uid = peer.uid;
  segment.shm_perm.gid = peer.gid;
  if (shmctl(shm_.shmid, IPC_SET, &segment) != 0) {
    spdlog::debug("{}: cannot hand the capture segment to uid {}", x_.name(), peer.uid);
  }
}

void ScreenCapture::process_events() {
  Display* display = x_.get();
  while (!x_.broken() && XPending(display) > 0) {
    XEvent event;
    XNextEvent(display, &event);
    if (event.type != damage_event_base_ + XDamageNotify) continue;
    // Take the whole damaged region at once; this also re-arms the NonEmpty report.
    XDamageSubtract(display, damage_, None, parts_);
    int count = 0;
    XRectangle bounds;
    XRectangle* rects = XFixesFetchRegionAndBounds(display, parts_, &count, &bounds);
    if (rects == nullptr) continue;
    for (int i = 0; i < count; ++i) {
      add_pending({rects[i].x, rects[i].y, rects[i].width, rects[i].height});
    }
    XFree(rects);
  }
}

void ScreenCapture::invalidate(const Rect& rect) { add_pending(rect); }

void ScreenCapture::add_pending(Rect rect) {
  // Clip to the screen: damage and client refresh requests may reach outside it.
  int x0 = std::clamp(rect.x, 0, width_), y0 = std::clamp(rect.y, 0, height_);
  int x1 = std::clamp(rect.x + rect.width, 0, width_);
  int y1 = std::clamp(rect.y + rect.height, 0, height_);
  if (x1 <= x0 || y1 <= y0) return;
  Rect clipped{x0, y0, x1 - x0, y1 - y0};
  for (auto& existing : pending_) {
    if (touches(existing, clipped)) {
      existing = bounding(existing, clipped);
      return;
    }
  }
  pending_.push_back(clipped);
  if (pending_.size() > kMaxPendingRects) {
    Rect all = pending_.front();
    for (const auto& r : pending_) all = bounding(all, r);
    pending_.assign(1, all);
  }
}

void ScreenCapture::copy_area(const Rect& rect) {
  Display* display = x_.get();
  XImage* image = nullptr;
  if (shm_attached_) {
    image = XShmCreateImage(display, visual_, static_cast<unsigned>(depth_), ZPixmap, shm_.shmaddr,
                            &shm_, static_cast<unsigned>(rect.width),
                            static_cast<unsigned>(rect.height));
    if (image != nullptr && !XShmGetImage(display, root_, image, rect.x, rect.y, AllPlanes)) {
      image->data = nullptr;
      XDestroyImage(image);
      image = nullptr;
    }
  } else {
    image = XGetImage(display, root_, rect.x, rect.y, static_cast<unsigned>(rect.width),
                      static_cast<unsigned>(rect.height), AllPlanes, ZPixmap);
  }
  if (image == nullptr) return;  // display gone or resized; the peer notices via broken()
  if (image->bits_per_pixel == 32) {
    for (int row = 0; row < rect.height; ++row) {
      std::memcpy(&frame_[(static_cast<std::size_t>(rect.y + row) * width_ + rect.x) * 4],
                  image->data + static_cast<std::size_t>(row) * image->bytes_per_line,
                  static_cast<std::size_t>(rect.width) * 4);
    }
  }
  if (shm_attached_) image->data = nullptr;  // the segment is ours, not the image's
  XDestroyImage(image);
}

std::vector<Rect> ScreenCapture::grab() {
  std::vector<Rect> areas;
  areas.swap(pending_);
  if (x_.broken()) return {};
  for (const auto& rect : areas) copy_area(rect);
  return areas;
}

}  // namespace mp::rdp
