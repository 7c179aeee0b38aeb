#include "screen_grabber.h"

#include <X11/Xutil.h>
#include <spdlog/spdlog.h>

namespace mp::agent {

ScreenGrabber::~ScreenGrabber() {
  if (image_ != nullptr) XDestroyImage(image_);
}

bool ScreenGrabber::grab(ScreenImage* out) {
  if (image_ != nullptr) {
    XDestroyImage(image_);
    image_ = nullptr;
  }
  int width = 0, height = 0;
  x_.root_size(&width, &height);
  if (width <= 0 || height <= 0) return false;
  image_ = XGetImage(x_.display(), x_.root(), 0, 0, static_cast<unsigned>(width),
                     static_cast<unsigned>(height), AllPlanes, ZPixmap);
  if (image_ == nullptr) {
    spdlog::warn("the screen could not be read (XGetImage failed)");
    return false;
  }
  bool bgrx = image_->bits_per_pixel == 32 && image_->byte_order == LSBFirst &&
              image_->red_mask == 0xff0000 && image_->green_mask == 0x00ff00 &&
              image_->blue_mask == 0x0000ff;
  if (!bgrx) {
    if (!format_refused_) {
      spdlog::error(
          "no thumbnails: the display's pixel layout ({} bits per pixel, red mask "
          "{:#x}) is not 32-bit BGRX",
          image_->bits_per_pixel, image_->red_mask);
      format_refused_ = true;
    }
    return false;
  }
  out->width = image_->width;
  out->height = image_->height;
  out->stride = static_cast<std::size_t>(image_->bytes_per_line);
  out->pixels = reinterpret_cast<const std::uint8_t*>(image_->data);
  return true;
}

}  // namespace mp::agent
