// An instant message from the teacher: who sent it, the text, a field for the student's
// answer, and Send / Close. Enter sends too. Sending or closing ends the window.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dialog_window.h"
#include "text_field.h"

namespace mp::agent {

class MessageWindow final : public DialogWindow {
 public:
  using SendAnswer = std::function<void(std::uint64_t message_id, std::string text)>;

  // `from` and `text` are already bounded (text_bounds.h).
  MessageWindow(XConnection& x, const DialogFonts& fonts, std::uint64_t message_id,
                const std::string& from, const std::string& text, int cascade,
                SendAnswer send_answer);

  static std::string title_for(const std::string& from);

 private:
  void draw_body(Painter& painter) override;
  void on_button(std::size_t index) override;
  void on_key(KeySym key, std::string_view typed) override;
  void on_close_requested() override { close(); }
  void send();

  std::uint64_t message_id_;
  std::vector<std::string> lines_;
  TextField answer_;
  int answer_scroll_ = 0;  // pixels of the answer scrolled out to the left
  SendAnswer send_answer_;
};

}  // namespace mp::agent
