// Fonts and drawing for the agent's windows: anti-aliased text through Xft and fontconfig
// (DejaVu Sans, fonts-dejavu-core), anti-aliased shapes through RENDER, and core X fonts and
// GC drawing when those are missing.
#pragma once

#include <X11/Xft/Xft.h>
#include <X11/Xlib.h>

#include <string>
#include <string_view>
#include <vector>

#include "x_connection.h"

namespace mp::agent {

class Font {
 public:
  Font(XConnection& x, int pixel_size, bool bold);
  ~Font();
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;

  int pixel_size() const { return pixel_size_; }
  int ascent() const { return ascent_; }
  int descent() const { return descent_; }
  int height() const { return ascent_ + descent_; }
  // The distance between baselines of wrapped lines.
  int line_height() const { return height() + height() / 5; }
  int width(std::string_view utf8) const;

  XftFont* xft() const { return xft_; }
  XFontStruct* core() const { return core_; }

 private:
  XConnection& x_;
  int pixel_size_;
  XftFont* xft_ = nullptr;
  XFontStruct* core_ = nullptr;
  int ascent_ = 0;
  int descent_ = 0;
};

struct Point {
  double x, y;
};

class Painter {
 public:
  Painter(XConnection& x, Drawable target);
  ~Painter();
  Painter(const Painter&) = delete;
  Painter& operator=(const Painter&) = delete;

  void fill(int x, int y, int width, int height, Rgb colour);
  // A rectangle with rounded corners, anti-aliased where RENDER is there.
  void fill_rounded(int x, int y, int width, int height, int radius, Rgb colour);
  void fill_polygon(const std::vector<Point>& points, Rgb colour);
  void text(const Font& font, int x, int baseline, Rgb colour, std::string_view utf8);
  // Text centred horizontally on `center_x`.
  void text_centred(const Font& font, int center_x, int baseline, Rgb colour,
                    std::string_view utf8);
  void clip(int x, int y, int width, int height);
  void unclip();

 private:
  XftColor xft_colour(Rgb colour);

  XConnection& x_;
  Drawable target_;
  GC gc_;
  XftDraw* draw_;
};

// The outline of a rounded rectangle as a polygon (a few points per corner).
std::vector<Point> rounded_rectangle(double x, double y, double width, double height,
                                     double radius);

}  // namespace mp::agent
