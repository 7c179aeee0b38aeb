// What the agent's ordinary windows share (the message and privacy notice windows): a normal
// top-level window with a title the window manager shows, a coloured header, buttons at the
// bottom right, drawing through a back buffer, and keyboard input through the input method.
#pragma once

#include <X11/Xlib.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "painter.h"
#include "palette.h"
#include "x_connection.h"

namespace mp::agent {

// Fonts sized for a classroom projector, shared by every dialog.
struct DialogFonts {
  explicit DialogFonts(XConnection& x)
      : title(x, 23, true), body(x, 20, false), label(x, 16, false), button(x, 19, true) {}
  Font title;
  Font body;
  Font label;
  Font button;
};

class DialogWindow {
 public:
  // Creates the window (not mapped yet); `cascade` shifts it so several do not hide each other.
  DialogWindow(XConnection& x, const DialogFonts& fonts, std::string title, int height,
               int cascade);
  virtual ~DialogWindow();
  DialogWindow(const DialogWindow&) = delete;
  DialogWindow& operator=(const DialogWindow&) = delete;

  void show();
  Window window() const { return window_; }
  // Closed windows are destroyed by their owner after the event that closed them.
  bool closed() const { return closed_; }
  void handle(XEvent& event);

 protected:
  struct Button {
    std::string label;
    bool primary;
  };

  int width() const { return width_; }
  int height() const { return height_; }
  bool focused() const { return focused_; }
  void set_buttons(std::vector<Button> buttons) { buttons_ = std::move(buttons); }
  void redraw();
  void close();

  // Draws what lies between the header and the bottom edge (buttons are drawn after).
  virtual void draw_body(Painter& painter) = 0;
  virtual void on_button(std::size_t index) = 0;
  // A key pressed while the window has the focus; `typed` is its text (UTF-8), maybe empty.
  virtual void on_key(KeySym key, std::string_view typed) = 0;
  // The window manager's close button.
  virtual void on_close_requested() = 0;

  XConnection& x_;
  const DialogFonts& fonts_;

 private:
  void draw();
  std::string typed_text(XKeyEvent& event, KeySym* key);

  std::string title_;
  Window window_ = 0;
  int width_;
  int height_;
  Pixmap back_buffer_ = 0;
  std::unique_ptr<Painter> painter_;
  XIC input_context_ = nullptr;
  std::vector<Button> buttons_;
  int pressed_button_ = -1;
  bool focused_ = false;
  bool closed_ = false;
};

}  // namespace mp::agent
