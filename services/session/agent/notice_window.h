// The privacy notice (MultiPoint's "your activities may be monitored"): the text and an OK
// button. OK (or Enter) acknowledges it; the window manager's close button does not.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dialog_window.h"

namespace mp::agent {

class NoticeWindow final : public DialogWindow {
 public:
  inline static const std::string kTitle = "Privacy notice";

  NoticeWindow(XConnection& x, const DialogFonts& fonts, const std::string& text,
               std::function<void()> acknowledged);

 private:
  void draw_body(Painter& painter) override;
  void on_button(std::size_t index) override;
  void on_key(KeySym key, std::string_view typed) override;
  void on_close_requested() override {}  // only OK dismisses it
  void acknowledge();

  std::vector<std::string> lines_;
  std::function<void()> acknowledged_;
};

}  // namespace mp::agent
