#include "painter.h"

#include <X11/extensions/Xrender.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "text_bounds.h"

namespace mp::agent {

namespace {

// Core fonts draw Latin-1 only: other characters show as '?'.
std::string to_latin1(std::string_view utf8) {
  std::string out;
  for (std::size_t pos = 0; pos < utf8.size();) {
    char32_t c;
    std::size_t length = decode_utf8(utf8, pos, &c);
    if (length == 0) length = 1, c = '?';
    pos += length;
    out += c <= 0xFF ? static_cast<char>(c) : '?';
  }
  return out;
}

XFontStruct* load_core_font(Display* display, int pixel_size, bool bold) {
  std::string pattern = "-*-helvetica-" + std::string(bold ? "bold" : "medium") + "-r-normal--" +
                        std::to_string(pixel_size) + "-*-*-*-*-*-iso8859-1";
  XFontStruct* font = XLoadQueryFont(display, pattern.c_str());
  if (font == nullptr) font = XLoadQueryFont(display, "fixed");
  return font;
}

}  // namespace

Font::Font(XConnection& x, int pixel_size, bool bold) : x_(x), pixel_size_(pixel_size) {
  std::string name = "DejaVu Sans:pixelsize=" + std::to_string(pixel_size) + (bold ? ":bold" : "");
  xft_ = XftFontOpenName(x.display(), x.screen(), name.c_str());
  if (xft_ != nullptr) {
    ascent_ = xft_->ascent;
    descent_ = xft_->descent;
    return;
  }
  core_ = load_core_font(x.display(), pixel_size, bold);
  if (core_ == nullptr) throw std::runtime_error("no usable font on the display");
  spdlog::warn("fontconfig found no font for '{}': using a core X font", name);
  ascent_ = core_->ascent;
  descent_ = core_->descent;
}

Font::~Font() {
  if (xft_ != nullptr) XftFontClose(x_.display(), xft_);
  if (core_ != nullptr) XFreeFont(x_.display(), core_);
}

int Font::width(std::string_view utf8) const {
  if (utf8.empty()) return 0;
  if (xft_ != nullptr) {
    XGlyphInfo extents;
    XftTextExtentsUtf8(x_.display(), xft_, reinterpret_cast<const FcChar8*>(utf8.data()),
                       static_cast<int>(utf8.size()), &extents);
    return extents.xOff;
  }
  std::string latin1 = to_latin1(utf8);
  return XTextWidth(core_, latin1.data(), static_cast<int>(latin1.size()));
}

Painter::Painter(XConnection& x, Drawable target) : x_(x), target_(target) {
  gc_ = XCreateGC(x.display(), target, 0, nullptr);
  draw_ = XftDrawCreate(x.display(), target, x.visual(), x.colormap());
}

Painter::~Painter() {
  if (draw_ != nullptr) XftDrawDestroy(draw_);
  XFreeGC(x_.display(), gc_);
}

XftColor Painter::xft_colour(Rgb colour) {
  XftColor out;
  out.pixel = x_.pixel(colour);
  out.color.red = static_cast<unsigned short>(colour.r * 257);
  out.color.green = static_cast<unsigned short>(colour.g * 257);
  out.color.blue = static_cast<unsigned short>(colour.b * 257);
  out.color.alpha = 0xFFFF;
  return out;
}

void Painter::fill(int x, int y, int width, int height, Rgb colour) {
  if (width <= 0 || height <= 0) return;
  XSetForeground(x_.display(), gc_, x_.pixel(colour));
  XFillRectangle(x_.display(), target_, gc_, x, y, static_cast<unsigned>(width),
                 static_cast<unsigned>(height));
}

void Painter::fill_rounded(int x, int y, int width, int height, int radius, Rgb colour) {
  fill_polygon(rounded_rectangle(x, y, width, height, radius), colour);
}

void Painter::fill_polygon(const std::vector<Point>& points, Rgb colour) {
  if (points.size() < 3) return;
  Picture destination = draw_ != nullptr ? XftDrawPicture(draw_) : 0;
  if (destination != 0) {
    XftColor source_colour = xft_colour(colour);
    Picture source = XftDrawSrcPicture(draw_, &source_colour);
    std::vector<XPointDouble> corners;
    corners.reserve(points.size());
    for (const auto& p : points) corners.push_back(XPointDouble{p.x, p.y});
    XRenderCompositeDoublePoly(x_.display(), PictOpOver, source, destination,
                               XRenderFindStandardFormat(x_.display(), PictStandardA8), 0, 0, 0, 0,
                               corners.data(), static_cast<int>(corners.size()), WindingRule);
    return;
  }
  std::vector<XPoint> corners;
  for (const auto& p : points) {
    corners.push_back(
        XPoint{static_cast<short>(std::lround(p.x)), static_cast<short>(std::lround(p.y))});
  }
  XSetForeground(x_.display(), gc_, x_.pixel(colour));
  XFillPolygon(x_.display(), target_, gc_, corners.data(), static_cast<int>(corners.size()),
               Nonconvex, CoordModeOrigin);
}

void Painter::text(const Font& font, int x, int baseline, Rgb colour, std::string_view utf8) {
  if (utf8.empty()) return;
  if (font.xft() != nullptr && draw_ != nullptr) {
    XftColor c = xft_colour(colour);
    XftDrawStringUtf8(draw_, &c, font.xft(), x, baseline,
                      reinterpret_cast<const FcChar8*>(utf8.data()), static_cast<int>(utf8.size()));
    return;
  }
  std::string latin1 = to_latin1(utf8);
  XSetForeground(x_.display(), gc_, x_.pixel(colour));
  if (font.core() != nullptr) XSetFont(x_.display(), gc_, font.core()->fid);
  XDrawString(x_.display(), target_, gc_, x, baseline, latin1.data(),
              static_cast<int>(latin1.size()));
}

void Painter::text_centred(const Font& font, int center_x, int baseline, Rgb colour,
                           std::string_view utf8) {
  text(font, center_x - font.width(utf8) / 2, baseline, colour, utf8);
}

void Painter::clip(int x, int y, int width, int height) {
  XRectangle area{static_cast<short>(x), static_cast<short>(y),
                  static_cast<unsigned short>(std::max(width, 0)),
                  static_cast<unsigned short>(std::max(height, 0))};
  XSetClipRectangles(x_.display(), gc_, 0, 0, &area, 1, Unsorted);
  if (draw_ != nullptr) XftDrawSetClipRectangles(draw_, 0, 0, &area, 1);
}

void Painter::unclip() {
  XSetClipMask(x_.display(), gc_, None);
  if (draw_ != nullptr) XftDrawSetClip(draw_, nullptr);
}

std::vector<Point> rounded_rectangle(double x, double y, double width, double height,
                                     double radius) {
  radius = std::clamp(radius, 0.0, std::min(width, height) / 2);
  constexpr int kSteps = 8;  // per quarter circle: smooth at button sizes
  std::vector<Point> points;
  // Corner centres clockwise from the top right, each sweeping a quarter turn.
  const Point centres[4] = {{x + width - radius, y + radius},
                            {x + width - radius, y + height - radius},
                            {x + radius, y + height - radius},
                            {x + radius, y + radius}};
  for (int corner = 0; corner < 4; ++corner) {
    double start = -std::numbers::pi / 2 + corner * std::numbers::pi / 2;
    for (int step = 0; step <= kSteps; ++step) {
      double angle = start + (std::numbers::pi / 2) * step / kSteps;
      points.push_back(Point{centres[corner].x + radius * std::cos(angle),
                             centres[corner].y + radius * std::sin(angle)});
    }
  }
  return points;
}

}  // namespace mp::agent
