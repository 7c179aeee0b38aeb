#include "screen_grabber.h"

#include <X11/Xutil.h>
#include <spdlog/spdlog.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <algorithm>

namespace mp::agent {

ScreenGrabber::~ScreenGrabber() {
  if (image_ != nullptr) XDestroyImage(image_);
  if (damage_ != 0) XDamageDestroy(x_.display(), damage_);
  if (changed_ != 0) XFixesDestroyRegion(x_.display(), changed_);
  release_shared();
}

bool ScreenGrabber::watch_damage() {
  if (damage_ != 0) return true;
  if (damage_failed_) return false;
  Display* d = x_.display();
  int event_base = 0, error_base = 0;
  if (!XDamageQueryExtension(d, &event_base, &error_base) ||
      !XFixesQueryExtension(d, &event_base, &error_base)) {
    damage_failed_ = true;
    spdlog::info("no XDamage on this display: every thumbnail reads the whole screen");
    return false;
  }
  // NonEmpty: at most one event between two grabs (XScreen ignores it); the region is what
  // counts, read at the next grab.
  damage_ = XDamageCreate(d, x_.root(), XDamageReportNonEmpty);
  changed_ = XFixesCreateRegion(d, nullptr, 0);
  return true;
}

void ScreenGrabber::release_shared() {
  if (shared_image_ == nullptr) return;
  XShmDetach(x_.display(), &segment_);
  XSync(x_.display(), False);
  shared_image_->data = nullptr;  // the segment's, not malloc's: XDestroyImage must not free it
  XDestroyImage(shared_image_);
  shmdt(segment_.shmaddr);
  shared_image_ = nullptr;
  segment_ = {};
}

bool ScreenGrabber::ensure_shared(int width, int height) {
  if (shared_failed_) return false;
  if (shared_image_ != nullptr && shared_image_->width == width &&
      shared_image_->height == height) {
    return true;
  }
  release_shared();
  if (!XShmQueryExtension(x_.display())) {
    shared_failed_ = true;
    spdlog::info("no MIT-SHM on this display: thumbnails use XGetImage");
    return false;
  }
  Display* d = x_.display();
  shared_image_ =
      XShmCreateImage(d, x_.visual(), static_cast<unsigned>(x_.depth()), ZPixmap, nullptr,
                      &segment_, static_cast<unsigned>(width), static_cast<unsigned>(height));
  if (shared_image_ == nullptr) {
    shared_failed_ = true;
    return false;
  }
  std::size_t bytes = static_cast<std::size_t>(shared_image_->bytes_per_line) * height;
  // Only this user (the X server runs as the session's user too) may attach it.
  segment_.shmid = shmget(IPC_PRIVATE, bytes, IPC_CREAT | 0600);
  void* address =
      segment_.shmid < 0 ? reinterpret_cast<void*>(-1) : shmat(segment_.shmid, nullptr, 0);
  if (address == reinterpret_cast<void*>(-1)) {
    if (segment_.shmid >= 0) shmctl(segment_.shmid, IPC_RMID, nullptr);
    XDestroyImage(shared_image_);
    shared_image_ = nullptr;
    shared_failed_ = true;
    spdlog::warn("no shared memory segment for thumbnails: XGetImage instead");
    return false;
  }
  segment_.shmaddr = shared_image_->data = static_cast<char*>(address);
  segment_.readOnly = False;
  XShmAttach(d, &segment_);
  XSync(d, False);
  // Gone as soon as both sides detach, even if this process is killed.
  shmctl(segment_.shmid, IPC_RMID, nullptr);
  shared_fresh_ = true;
  return true;
}

bool ScreenGrabber::grab_rows(int top, int rows) {
  if (top == 0 && rows == shared_image_->height) {
    return XShmGetImage(x_.display(), x_.root(), shared_image_, 0, 0, AllPlanes);
  }
  // A view of the rows inside the same segment: Xlib asks the server for an image at the
  // view's offset in the segment, so the rows land where the whole picture has them.
  XImage* band = XShmCreateImage(
      x_.display(), x_.visual(), static_cast<unsigned>(x_.depth()), ZPixmap,
      shared_image_->data + std::size_t(top) * shared_image_->bytes_per_line, &segment_,
      static_cast<unsigned>(shared_image_->width), static_cast<unsigned>(rows));
  if (band == nullptr) return false;
  bool ok = band->bytes_per_line == shared_image_->bytes_per_line &&
            XShmGetImage(x_.display(), x_.root(), band, 0, top, AllPlanes);
  band->data = nullptr;  // the segment's
  XDestroyImage(band);
  return ok;
}

bool ScreenGrabber::grab_changed_rows(int height) {
  Display* d = x_.display();
  bool whole = shared_fresh_ || !watch_damage();
  int top = 0, bottom = height;
  if (damage_ != 0) {
    // Taken before the copy: what changes during it is damage again, read next time.
    XDamageSubtract(d, damage_, None, changed_);
    if (!whole) {
      int count = 0;
      XRectangle bounds{};
      XRectangle* parts = XFixesFetchRegionAndBounds(d, changed_, &count, &bounds);
      if (parts != nullptr) XFree(parts);
      if (count == 0) return true;  // nothing changed: the segment holds the screen as it is
      top = std::clamp<int>(bounds.y, 0, height);
      bottom = std::clamp<int>(bounds.y + bounds.height, top, height);
      if (bottom == top) return true;
    }
  }
  if (!grab_rows(top, bottom - top)) return false;
  shared_fresh_ = false;
  changes_.record(++version_, top, bottom);
  return true;
}

bool ScreenGrabber::usable(const XImage* image) {
  bool bgrx = image->bits_per_pixel == 32 && image->byte_order == LSBFirst &&
              image->red_mask == 0xff0000 && image->green_mask == 0x00ff00 &&
              image->blue_mask == 0x0000ff;
  if (!bgrx && !format_refused_) {
    spdlog::error(
        "no thumbnails: the display's pixel layout ({} bits per pixel, red mask "
        "{:#x}) is not 32-bit BGRX",
        image->bits_per_pixel, image->red_mask);
    format_refused_ = true;
  }
  return bgrx;
}

bool ScreenGrabber::grab(ScreenImage* out) {
  if (image_ != nullptr) {
    XDestroyImage(image_);
    image_ = nullptr;
  }
  int width = 0, height = 0;
  x_.root_size(&width, &height);
  if (width <= 0 || height <= 0) return false;
  XImage* image = nullptr;
  if (ensure_shared(width, height)) {
    // A round trip: False when the server refused (then never again: XGetImage from now on).
    if (grab_changed_rows(height)) {
      image = shared_image_;
    } else {
      spdlog::warn("MIT-SHM refused by the display: thumbnails use XGetImage");
      release_shared();
      shared_failed_ = true;
    }
  }
  if (image == nullptr) {
    image_ = XGetImage(x_.display(), x_.root(), 0, 0, static_cast<unsigned>(width),
                       static_cast<unsigned>(height), AllPlanes, ZPixmap);
    if (image_ == nullptr) {
      spdlog::warn("the screen could not be read (XGetImage failed)");
      return false;
    }
    image = image_;
    changes_.record(++version_, 0, height);
  }
  if (!usable(image)) return false;
  out->width = image->width;
  out->height = image->height;
  out->stride = static_cast<std::size_t>(image->bytes_per_line);
  out->pixels = reinterpret_cast<const std::uint8_t*>(image->data);
  out->version = version_;
  out->changes = &changes_;
  return true;
}

}  // namespace mp::agent
