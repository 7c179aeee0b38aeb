#include "notice_window.h"

#include <X11/keysym.h>

#include "text_layout.h"

namespace mp::agent {

namespace {

using namespace dialog_layout;

constexpr std::size_t kMaxLines = 18;

std::vector<std::string> notice_lines(const DialogFonts& fonts, const std::string& text) {
  auto lines = wrap_text(text, kWidth - 2 * kPadding,
                         [&fonts](std::string_view piece) { return fonts.body.width(piece); });
  if (lines.size() > kMaxLines) {
    lines.resize(kMaxLines);
    lines.back() += "\u2026";
  }
  return lines;
}

int height_for(const DialogFonts& fonts, std::size_t line_count) {
  return kHeaderHeight + kPadding + static_cast<int>(line_count) * fonts.body.line_height() +
         kFieldToButtons + kButtonHeight + kPadding;
}

}  // namespace

NoticeWindow::NoticeWindow(XConnection& x, const DialogFonts& fonts, const std::string& text,
                           std::function<void()> acknowledged)
    : DialogWindow(x, fonts, kTitle, height_for(fonts, notice_lines(fonts, text).size()), 0),
      lines_(notice_lines(fonts, text)),
      acknowledged_(std::move(acknowledged)) {
  set_buttons({{"OK", true}});
}

void NoticeWindow::draw_body(Painter& p) {
  const Font& body = fonts_.body;
  int y = kHeaderHeight + kPadding;
  p.clip(0, kHeaderHeight, width(), button(0, width(), height()).y - kHeaderHeight);
  for (const auto& line : lines_) {
    p.text(body, kPadding, y + body.ascent(), colours::kText, line);
    y += body.line_height();
  }
  p.unclip();
}

void NoticeWindow::on_button(std::size_t) { acknowledge(); }

void NoticeWindow::on_key(KeySym key, std::string_view) {
  if (key == XK_Return || key == XK_KP_Enter) acknowledge();
}

void NoticeWindow::acknowledge() {
  if (closed()) return;
  close();
  acknowledged_();
}

}  // namespace mp::agent
