#include "mp/lockscreen/lock_painter.h"

#include <fontconfig/fontconfig.h>
#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mp::lockscreen {

namespace {

// The colours of mp-agent's courtesy overlay (services/session/agent/palette.h): a station looks
// the same locked whoever draws the lock. White on deep blue reads well on a washed-out
// classroom projector.
constexpr std::uint32_t kBackground = 0x0f2a47;
constexpr std::uint32_t kPadlock = 0xf2b705;
constexpr std::uint32_t kTitle = 0xffffff;
constexpr std::uint32_t kMessage = 0xffffff;
constexpr std::uint32_t kFooter = 0xa8c0da;
constexpr std::size_t kMaxMessageLines = 6;
constexpr std::size_t kMaxFallbackFaces = 8;

// A font file fontconfig picks for `pattern` (e.g. "DejaVu Sans:bold"); empty if none.
std::string match_font(const char* pattern) {
  FcPattern* wanted = FcNameParse(reinterpret_cast<const FcChar8*>(pattern));
  if (wanted == nullptr) return {};
  FcConfigSubstitute(nullptr, wanted, FcMatchPattern);
  FcDefaultSubstitute(wanted);
  FcResult result = FcResultNoMatch;
  FcPattern* found = FcFontMatch(nullptr, wanted, &result);
  std::string path;
  FcChar8* file = nullptr;
  if (found != nullptr && FcPatternGetString(found, FC_FILE, 0, &file) == FcResultMatch) {
    path = reinterpret_cast<const char*>(file);
  }
  if (found != nullptr) FcPatternDestroy(found);
  FcPatternDestroy(wanted);
  return path;
}

void put(Picture& picture, int x, int y, std::uint32_t rgb, int alpha) {
  if (x < 0 || y < 0 || x >= picture.width || y >= picture.height || alpha <= 0) return;
  std::uint8_t* p = &picture.pixels[(static_cast<std::size_t>(y) * picture.width + x) * 4];
  auto blend = [alpha](std::uint8_t under, std::uint32_t over) {
    return static_cast<std::uint8_t>((over * alpha + under * (255 - alpha)) / 255);
  };
  p[0] = blend(p[0], rgb & 0xff);
  p[1] = blend(p[1], (rgb >> 8) & 0xff);
  p[2] = blend(p[2], (rgb >> 16) & 0xff);
  p[3] = 0xff;
}

// Coverage of a pixel by a shape given as a signed distance (negative inside), anti-aliased
// over one pixel.
int coverage(double distance) {
  return static_cast<int>(std::clamp(0.5 - distance, 0.0, 1.0) * 255.0);
}

double rounded_box_distance(double x, double y, double cx, double cy, double half_w, double half_h,
                            double radius) {
  double qx = std::abs(x - cx) - (half_w - radius);
  double qy = std::abs(y - cy) - (half_h - radius);
  double outside = std::hypot(std::max(qx, 0.0), std::max(qy, 0.0));
  return outside + std::min(std::max(qx, qy), 0.0) - radius;
}

// A padlock centred at (cx, top of its shackle = top), `unit` pixels per design unit.
void paint_padlock(Picture& picture, double cx, double top, double unit) {
  const double body_w = 120 * unit, body_h = 92 * unit, ring = 15 * unit;
  const double shackle_r = 38 * unit;  // to the middle of the ring
  const double shackle_cy = top + shackle_r + ring / 2;
  const double body_top = shackle_cy + 10 * unit;
  const double body_cy = body_top + body_h / 2;
  int x0 = static_cast<int>(cx - body_w / 2) - 2, x1 = static_cast<int>(cx + body_w / 2) + 2;
  int y0 = static_cast<int>(top) - 2, y1 = static_cast<int>(body_top + body_h) + 2;
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      double px = x + 0.5, py = y + 0.5;
      double body = rounded_box_distance(px, py, cx, body_cy, body_w / 2, body_h / 2, 12 * unit);
      // The shackle: a ring, upper half only, with straight legs down into the body.
      double d_ring = std::abs(std::hypot(px - cx, py - shackle_cy) - shackle_r) - ring / 2;
      if (py > shackle_cy) d_ring = std::abs(std::abs(px - cx) - shackle_r) - ring / 2;
      if (py > body_cy) d_ring = 1e9;  // the legs end inside the body
      double keyhole = std::hypot(px - cx, py - (body_cy - 8 * unit)) - 11 * unit;
      double slot =
          rounded_box_distance(px, py, cx, body_cy + 12 * unit, 4.5 * unit, 18 * unit, 4 * unit);
      double hole = std::min(keyhole, slot);  // the keyhole is cut out of the body
      int alpha = coverage(std::min(body, d_ring)) * (255 - coverage(hole)) / 255;
      put(picture, x, y, kPadlock, alpha);
    }
  }
}

}  // namespace

std::uint32_t Picture::pixel(int x, int y) const {
  const std::uint8_t* p = &pixels[(static_cast<std::size_t>(y) * width + x) * 4];
  return (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

std::vector<char32_t> decode_utf8(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto b = static_cast<unsigned char>(text[i]);
    int length = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t c = 0xfffd;
    if (length == 0 || i + length > text.size()) {
      length = 1;
    } else {
      c = length == 1 ? b : b & (0x7f >> length);
      for (int k = 1; k < length; ++k) {
        auto next = static_cast<unsigned char>(text[i + k]);
        if ((next & 0xc0) != 0x80) {
          c = 0xfffd;
          length = k;
          break;
        }
        c = (c << 6) | (next & 0x3f);
      }
      // Overlong forms, surrogates and values beyond Unicode are not characters.
      static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
      if (c != 0xfffd && (c < kMinimum[length] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff))
        c = 0xfffd;
    }
    i += length;
    if (c == '\n' || c == '\t') c = ' ';
    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) continue;
    out.push_back(c);
  }
  return out;
}

struct LockPainter::Fonts {
  FT_Library library = nullptr;
  FT_Face regular = nullptr;
  FT_Face bold = nullptr;
  std::vector<FT_Face> fallbacks;  // loaded when a character is missing from the main faces
  std::vector<std::string> fallback_files;
  bool fallbacks_listed = false;

  ~Fonts() {
    for (FT_Face face : fallbacks) FT_Done_Face(face);
    if (bold != nullptr && bold != regular) FT_Done_Face(bold);
    if (regular != nullptr) FT_Done_Face(regular);
    if (library != nullptr) FT_Done_FreeType(library);
  }

  FT_Face open(const std::string& file) {
    FT_Face face = nullptr;
    if (file.empty() || FT_New_Face(library, file.c_str(), 0, &face) != 0) return nullptr;
    return face;
  }

  void list_fallbacks() {
    fallbacks_listed = true;
    FcPattern* pattern = FcNameParse(reinterpret_cast<const FcChar8*>("sans-serif"));
    if (pattern == nullptr) return;
    FcConfigSubstitute(nullptr, pattern, FcMatchPattern);
    FcDefaultSubstitute(pattern);
    FcResult result = FcResultNoMatch;
    FcFontSet* set = FcFontSort(nullptr, pattern, FcFalse, nullptr, &result);
    if (set != nullptr) {
      for (int i = 0; i < set->nfont && fallback_files.size() < 64; ++i) {
        FcChar8* file = nullptr;
        if (FcPatternGetString(set->fonts[i], FC_FILE, 0, &file) == FcResultMatch) {
          fallback_files.emplace_back(reinterpret_cast<const char*>(file));
        }
      }
      FcFontSetDestroy(set);
    }
    FcPatternDestroy(pattern);
  }

  // The face that has `c` (the main one if none has it: it draws its missing-glyph box).
  FT_Face face_for(FT_Face main, char32_t c) {
    if (FT_Get_Char_Index(main, c) != 0) return main;
    for (FT_Face face : fallbacks) {
      if (FT_Get_Char_Index(face, c) != 0) return face;
    }
    if (!fallbacks_listed) list_fallbacks();
    while (!fallback_files.empty() && fallbacks.size() < kMaxFallbackFaces) {
      std::string file = fallback_files.front();
      fallback_files.erase(fallback_files.begin());
      FT_Face face = open(file);
      if (face == nullptr) continue;
      fallbacks.push_back(face);
      if (FT_Get_Char_Index(face, c) != 0) return face;
    }
    return main;
  }
};

namespace {

struct Run {
  std::vector<char32_t> text;
  int width = 0;
};

class TextWriter {
 public:
  TextWriter(LockPainter::Fonts& fonts, FT_Face main, int pixel_size)
      : fonts_(fonts), main_(main), size_(std::max(pixel_size, 6)) {}

  int advance(char32_t c) {
    FT_Face face = sized(fonts_.face_for(main_, c));
    if (FT_Load_Char(face, c, FT_LOAD_DEFAULT) != 0) return 0;
    return static_cast<int>(face->glyph->advance.x >> 6);
  }
  int width(const std::vector<char32_t>& text) {
    int total = 0;
    for (char32_t c : text) total += advance(c);
    return total;
  }
  int line_height() {
    FT_Face face = sized(main_);
    return static_cast<int>(face->size->metrics.height >> 6);
  }
  int ascender() {
    FT_Face face = sized(main_);
    return static_cast<int>(face->size->metrics.ascender >> 6);
  }

  // Lines of at most `max_width` pixels, broken at spaces (a word longer than a line is broken
  // anywhere); more than `max_lines` end with an ellipsis.
  std::vector<Run> wrap(const std::vector<char32_t>& text, int max_width, std::size_t max_lines) {
    std::vector<Run> lines;
    Run line;
    std::vector<char32_t> word;
    auto flush_word = [&] {
      if (word.empty()) return;
      int word_width = width(word);
      int space = line.text.empty() ? 0 : advance(' ');
      if (!line.text.empty() && line.width + space + word_width > max_width) {
        lines.push_back(std::move(line));
        line = Run{};
        space = 0;
      }
      if (line.text.empty() && word_width > max_width) {
        for (char32_t c : word) {
          int w = advance(c);
          if (!line.text.empty() && line.width + w > max_width) {
            lines.push_back(std::move(line));
            line = Run{};
          }
          line.text.push_back(c);
          line.width += w;
        }
      } else {
        if (space != 0) line.text.push_back(' ');
        line.text.insert(line.text.end(), word.begin(), word.end());
        line.width += space + word_width;
      }
      word.clear();
    };
    for (char32_t c : text) {
      if (c == ' ') {
        flush_word();
      } else {
        word.push_back(c);
      }
    }
    flush_word();
    if (!line.text.empty()) lines.push_back(std::move(line));
    if (lines.size() > max_lines) {
      lines.resize(max_lines);
      Run& last = lines.back();
      int ellipsis = advance(U'\u2026');
      while (!last.text.empty() && last.width + ellipsis > max_width) {
        last.width -= advance(last.text.back());
        last.text.pop_back();
      }
      last.text.push_back(U'\u2026');
      last.width += ellipsis;
    }
    return lines;
  }

  // Draws `run` with its baseline at `baseline`, starting at `x`.
  void draw(Picture& picture, const Run& run, int x, int baseline, std::uint32_t rgb) {
    for (char32_t c : run.text) {
      FT_Face face = sized(fonts_.face_for(main_, c));
      if (FT_Load_Char(face, c, FT_LOAD_RENDER) != 0) continue;
      const FT_GlyphSlot glyph = face->glyph;
      const FT_Bitmap& bitmap = glyph->bitmap;
      if (bitmap.pixel_mode == FT_PIXEL_MODE_GRAY) {
        for (unsigned row = 0; row < bitmap.rows; ++row) {
          for (unsigned col = 0; col < bitmap.width; ++col) {
            int alpha = bitmap.buffer[row * bitmap.pitch + col];
            put(picture, x + glyph->bitmap_left + static_cast<int>(col),
                baseline - glyph->bitmap_top + static_cast<int>(row), rgb, alpha);
          }
        }
      }
      x += static_cast<int>(glyph->advance.x >> 6);
    }
  }

 private:
  FT_Face sized(FT_Face face) {
    if (FT_IS_SCALABLE(face)) {
      FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(size_));
    } else if (face->num_fixed_sizes > 0) {
      FT_Select_Size(face, 0);  // bitmap-only fonts: their one size
    }
    return face;
  }

  LockPainter::Fonts& fonts_;
  FT_Face main_;
  int size_;
};

}  // namespace

LockPainter::LockPainter() : fonts_(std::make_unique<Fonts>()) {
  if (FT_Init_FreeType(&fonts_->library) != 0) throw std::runtime_error("FreeType cannot start");
  if (!FcInit()) throw std::runtime_error("fontconfig cannot start");
  fonts_->regular = fonts_->open(match_font("DejaVu Sans"));
  if (fonts_->regular == nullptr) fonts_->regular = fonts_->open(match_font("sans-serif"));
  if (fonts_->regular == nullptr) {
    throw std::runtime_error("no font for the lock screen (install fonts-dejavu-core)");
  }
  fonts_->bold = fonts_->open(match_font("DejaVu Sans:bold"));
  if (fonts_->bold == nullptr) fonts_->bold = fonts_->regular;
}

LockPainter::~LockPainter() = default;

std::shared_ptr<const Picture> LockPainter::paint(int width, int height, const LockText& text) {
  std::lock_guard lock(mutex_);
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    if (it->width == width && it->height == height && it->title == text.title &&
        it->message == text.message && it->footer == text.footer) {
      Painted found = std::move(*it);
      kept_.erase(it);
      kept_.push_back(std::move(found));
      return kept_.back().picture;
    }
  }
  auto picture = std::make_shared<const Picture>(draw(width, height, text));
  if (kept_.size() >= kKept) kept_.erase(kept_.begin());
  kept_.push_back({width, height, text.title, text.message, text.footer, picture});
  return picture;
}

Picture LockPainter::draw(int width, int height, const LockText& text) {
  Picture picture;
  picture.width = std::clamp(width, 1, 8192);
  picture.height = std::clamp(height, 1, 8192);
  picture.pixels.resize(static_cast<std::size_t>(picture.width) * picture.height * 4);
  for (std::size_t i = 0; i < picture.pixels.size(); i += 4) {
    picture.pixels[i] = kBackground & 0xff;
    picture.pixels[i + 1] = (kBackground >> 8) & 0xff;
    picture.pixels[i + 2] = (kBackground >> 16) & 0xff;
    picture.pixels[i + 3] = 0xff;
  }
  // Laid out for 1080 lines; smaller and larger screens scale, tiny ones stay legible.
  const double unit = std::max(std::min(picture.width / 1920.0, picture.height / 1080.0), 0.4);
  const int max_text_width = picture.width * 8 / 10;

  TextWriter title(*fonts_, fonts_->bold, static_cast<int>(std::lround(60 * unit)));
  TextWriter message(*fonts_, fonts_->regular, static_cast<int>(std::lround(44 * unit)));
  TextWriter footer(*fonts_, fonts_->regular, static_cast<int>(std::lround(24 * unit)));
  auto title_lines = title.wrap(decode_utf8(text.title), max_text_width, 2);
  auto message_lines = message.wrap(decode_utf8(text.message), max_text_width, kMaxMessageLines);
  auto footer_lines = footer.wrap(decode_utf8(text.footer), max_text_width, 2);

  const int padlock_height = static_cast<int>(std::lround(160 * unit));
  const int gap = static_cast<int>(std::lround(40 * unit));
  int block = padlock_height + gap + static_cast<int>(title_lines.size()) * title.line_height();
  if (!message_lines.empty()) {
    block += gap + static_cast<int>(message_lines.size()) * message.line_height();
  }
  int y = std::max((picture.height - block) / 2 - static_cast<int>(40 * unit), 0);

  paint_padlock(picture, picture.width / 2.0, y, unit);
  y += padlock_height + gap;
  for (const auto& line : title_lines) {
    title.draw(picture, line, (picture.width - line.width) / 2, y + title.ascender(), kTitle);
    y += title.line_height();
  }
  if (!message_lines.empty()) y += gap;
  for (const auto& line : message_lines) {
    message.draw(picture, line, (picture.width - line.width) / 2, y + message.ascender(), kMessage);
    y += message.line_height();
  }
  int footer_y = picture.height - static_cast<int>(footer_lines.size()) * footer.line_height() -
                 static_cast<int>(std::lround(48 * unit));
  footer_y = std::max(footer_y, y + gap / 2);
  for (const auto& line : footer_lines) {
    footer.draw(picture, line, (picture.width - line.width) / 2, footer_y + footer.ascender(),
                kFooter);
    footer_y += footer.line_height();
  }
  return picture;
}

}  // namespace mp::lockscreen
