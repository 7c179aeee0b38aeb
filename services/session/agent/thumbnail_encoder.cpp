#include "thumbnail_encoder.h"

#include <spdlog/spdlog.h>
#include <turbojpeg.h>

#include <algorithm>
#include <stdexcept>

namespace mp::agent {

namespace {

constexpr int kLowestQuality = 15;
constexpr int kHighestQuality = 80;

// For each output column or row: the two neighbouring source positions at the centre of its
// area (a 2x2 box there): of different parity, so 1-pixel patterns (checkerboards, hairlines,
// text strokes) average to grey instead of aliasing to one of their colours.
std::vector<int> sample_positions(int source, int target) {
  std::vector<int> positions(static_cast<std::size_t>(target) * 2);
  for (int i = 0; i < target; ++i) {
    if (source == target) {
      positions[2 * i] = positions[2 * i + 1] = i;
      continue;
    }
    int centre = static_cast<int>((2LL * i + 1) * source / (2LL * target));
    positions[2 * i] = std::clamp(centre - 1, 0, source - 1);
    positions[2 * i + 1] = std::clamp(centre, 0, source - 1);
  }
  return positions;
}

}  // namespace

void scale_to_width(const ScreenImage& source, int width, RgbImage* out) {
  int w = std::clamp(width, 1, std::max(source.width, 1));
  long long h = static_cast<long long>(source.height) * w / std::max(source.width, 1);
  int height = static_cast<int>(std::max<long long>(h, 1));
  out->width = w;
  out->height = height;
  out->rgb.resize(static_cast<std::size_t>(w) * height * 3);
  if (source.width <= 0 || source.height <= 0 || source.pixels == nullptr) {
    std::fill(out->rgb.begin(), out->rgb.end(), 0);
    return;
  }
  scale_rows(source, 0, source.height, out);
}

bool scale_rows(const ScreenImage& source, int top, int bottom, RgbImage* out) {
  if (source.width <= 0 || source.height <= 0 || source.pixels == nullptr || out->width <= 0 ||
      out->height <= 0 || out->rgb.size() != std::size_t(out->width) * out->height * 3) {
    return false;
  }
  unsigned differs = 0;
  const int w = out->width, height = out->height;
  std::vector<int> xs = sample_positions(source.width, w);
  std::vector<int> ys = sample_positions(source.height, height);
  for (int y = 0; y < height; ++y) {
    // Only the output rows that read a changed source row.
    bool touched = (ys[2 * y] >= top && ys[2 * y] < bottom) ||
                   (ys[2 * y + 1] >= top && ys[2 * y + 1] < bottom);
    if (!touched) continue;
    std::uint8_t* o = out->rgb.data() + static_cast<std::size_t>(y) * w * 3;
    const std::uint8_t* row0 = source.pixels + static_cast<std::size_t>(ys[2 * y]) * source.stride;
    const std::uint8_t* row1 =
        source.pixels + static_cast<std::size_t>(ys[2 * y + 1]) * source.stride;
    for (int x = 0; x < w; ++x) {
      std::size_t x0 = static_cast<std::size_t>(xs[2 * x]) * 4;
      std::size_t x1 = static_cast<std::size_t>(xs[2 * x + 1]) * 4;
      for (int c = 0; c < 3; ++c) {
        // Source bytes are B, G, R: output channel c (R, G, B) is source byte 2 - c.
        unsigned sum = row0[x0 + 2 - c] + row0[x1 + 2 - c] + row1[x0 + 2 - c] + row1[x1 + 2 - c];
        auto value = static_cast<std::uint8_t>((sum + 2) / 4);
        differs |= static_cast<unsigned>(*o ^ value);
        *o++ = value;
      }
    }
  }
  return differs != 0;
}

void ChangedRows::record(std::uint64_t version, int top, int bottom) {
  spans_[version % kKept] = Span{version, top, bottom};
}

bool ChangedRows::since(std::uint64_t seen, std::uint64_t now, int* top, int* bottom) const {
  if (seen == 0 || now < seen || now - seen >= kKept) return false;
  int t = 0, b = 0;
  for (std::uint64_t v = seen + 1; v <= now; ++v) {
    const Span& span = spans_[v % kKept];
    if (span.version != v) return false;
    if (span.bottom <= span.top) continue;
    if (b <= t) {
      t = span.top;
      b = span.bottom;
    } else {
      t = std::min(t, span.top);
      b = std::max(b, span.bottom);
    }
  }
  *top = t;
  *bottom = b;
  return true;
}

JpegEncoder::JpegEncoder() : handle_(tjInitCompress()) {
  if (handle_ == nullptr) throw std::runtime_error("libturbojpeg: cannot start a compressor");
}

JpegEncoder::~JpegEncoder() { tjDestroy(static_cast<tjhandle>(handle_)); }

std::string JpegEncoder::encode(const RgbImage& image, int quality) {
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(static_cast<tjhandle>(handle_), image.rgb.data(), image.width,
                       image.width * 3, image.height, TJPF_RGB, &jpeg, &size, TJSAMP_420,
                       std::clamp(quality, 1, 100), TJFLAG_FASTDCT);
  std::string out;
  if (rc == 0) {
    out.assign(reinterpret_cast<const char*>(jpeg), size);
  } else {
    spdlog::warn("libturbojpeg: {}", tjGetErrorStr2(static_cast<tjhandle>(handle_)));
  }
  tjFree(jpeg);
  return out;
}

std::string encode_within(JpegEncoder& encoder, const RgbImage& image, std::size_t max_bytes,
                          int* quality) {
  int q = std::clamp(*quality, kLowestQuality, kHighestQuality);
  for (;;) {
    std::string jpeg = encoder.encode(image, q);
    if (jpeg.empty()) return jpeg;
    if (jpeg.size() <= max_bytes) {
      // Well under the limit: try a better picture next time.
      *quality = jpeg.size() * 10 < max_bytes * 6 ? std::min(q + 5, kHighestQuality) : q;
      return jpeg;
    }
    if (q == kLowestQuality) {
      *quality = q;
      return {};
    }
    q = std::max(q - 10, kLowestQuality);
  }
}

}  // namespace mp::agent
