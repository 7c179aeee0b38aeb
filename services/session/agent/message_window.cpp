#include "message_window.h"

#include <X11/keysym.h>

#include "text_bounds.h"
#include "text_layout.h"

namespace mp::agent {

namespace {

using namespace dialog_layout;

constexpr int kLabelGap = 8;
constexpr int kTextToLabel = 20;
constexpr int kFieldInset = 12;  // text inside the answer field
// Very long messages are bounded to 500 characters, which still fits; this is a safety net.
constexpr std::size_t kMaxLines = 14;

std::vector<std::string> body_lines(const DialogFonts& fonts, const std::string& text) {
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
         kTextToLabel + fonts.label.line_height() + kLabelGap + kFieldHeight + kFieldToButtons +
         kButtonHeight + kPadding;
}

}  // namespace

std::string MessageWindow::title_for(const std::string& from) {
  return from.empty() ? "Message from your teacher" : "Message from " + from;
}

MessageWindow::MessageWindow(XConnection& x, const DialogFonts& fonts, std::uint64_t message_id,
                             const std::string& from, const std::string& text, int cascade,
                             SendAnswer send_answer)
    : DialogWindow(x, fonts, title_for(from), height_for(fonts, body_lines(fonts, text).size()),
                   cascade),
      message_id_(message_id),
      lines_(body_lines(fonts, text)),
      answer_(kMaxAnswerChars),
      send_answer_(std::move(send_answer)) {
  set_buttons({{"Send", true}, {"Close", false}});
}

void MessageWindow::draw_body(Painter& p) {
  const Font& body = fonts_.body;
  Rect field = answer_field(width(), height());
  const int label_top = field.y - kLabelGap - fonts_.label.line_height();
  int y = kHeaderHeight + kPadding;
  p.clip(0, kHeaderHeight, width(), label_top - kHeaderHeight);
  for (const auto& line : lines_) {
    p.text(body, kPadding, y + body.ascent(), colours::kText, line);
    y += body.line_height();
  }
  p.unclip();
  p.text(fonts_.label, kPadding, label_top + fonts_.label.ascent(), colours::kMuted,
         "Your answer (Enter sends):");

  // The field: a border that turns the accent colour when typing goes here.
  const int border = focused() ? 2 : 1;
  p.fill(field.x, field.y, field.width, field.height,
         focused() ? colours::kAccent : colours::kFieldBorder);
  p.fill(field.x + border, field.y + border, field.width - 2 * border, field.height - 2 * border,
         colours::kFieldBackground);
  // Scroll so the caret stays inside the field.
  const int inner = field.width - 2 * kFieldInset;
  const int caret_x = body.width(std::string_view(answer_.text()).substr(0, answer_.caret()));
  if (caret_x - answer_scroll_ > inner) answer_scroll_ = caret_x - inner;
  if (caret_x < answer_scroll_) answer_scroll_ = caret_x;
  const int text_x = field.x + kFieldInset - answer_scroll_;
  const int baseline = field.y + (field.height + body.ascent() - body.descent()) / 2;
  p.clip(field.x + border, field.y + border, field.width - 2 * border, field.height - 2 * border);
  p.text(body, text_x, baseline, colours::kText, answer_.text());
  if (focused()) {
    p.fill(text_x + caret_x, baseline - body.ascent(), 2, body.height(), colours::kText);
  }
  p.unclip();
}

void MessageWindow::on_button(std::size_t index) {
  if (index == 0) {
    send();
  } else {
    close();
  }
}

void MessageWindow::on_key(KeySym key, std::string_view typed) {
  bool changed = true;
  switch (key) {
    case XK_Return:
    case XK_KP_Enter:
      send();
      return;
    case XK_BackSpace:
      changed = answer_.erase_before();
      break;
    case XK_Delete:
    case XK_KP_Delete:
      changed = answer_.erase_after();
      break;
    case XK_Left:
    case XK_KP_Left:
      answer_.move_left();
      break;
    case XK_Right:
    case XK_KP_Right:
      answer_.move_right();
      break;
    case XK_Home:
    case XK_KP_Home:
      answer_.move_home();
      break;
    case XK_End:
    case XK_KP_End:
      answer_.move_end();
      break;
    default:
      changed = answer_.insert(typed);
      break;
  }
  if (changed) redraw();
}

void MessageWindow::send() {
  if (closed()) return;
  send_answer_(message_id_, answer_.text());
  close();
}

}  // namespace mp::agent
