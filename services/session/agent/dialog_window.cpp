#include "dialog_window.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace mp::agent {

namespace {

constexpr long kEvents = ExposureMask | KeyPressMask | ButtonPressMask | ButtonReleaseMask |
                         FocusChangeMask | StructureNotifyMask;

void set_utf8_property(XConnection& x, Window window, const char* name, std::string_view value) {
  XChangeProperty(x.display(), window, x.atom(name), x.atom("UTF8_STRING"), 8, PropModeReplace,
                  reinterpret_cast<const unsigned char*>(value.data()),
                  static_cast<int>(value.size()));
}

}  // namespace

DialogWindow::DialogWindow(XConnection& x, const DialogFonts& fonts, std::string title, int height,
                           int cascade)
    : x_(x), fonts_(fonts), title_(std::move(title)), width_(dialog_layout::kWidth) {
  Display* d = x.display();
  int screen_width = 0, screen_height = 0;
  x.root_size(&screen_width, &screen_height);
  height_ = std::min(height, std::max(screen_height - 40, 200));
  int left = std::max(0, (screen_width - width_) / 2 + cascade * 36);
  int top = std::max(0, (screen_height - height_) / 3 + cascade * 36);

  XSetWindowAttributes attributes{};
  attributes.background_pixel = x.pixel(colours::kWindow);
  // Contents are redrawn from the back buffer; no need to clear exposed parts first.
  attributes.bit_gravity = NorthWestGravity;
  attributes.event_mask = kEvents;
  window_ = XCreateWindow(d, x.root(), left, top, static_cast<unsigned>(width_),
                          static_cast<unsigned>(height_), 0, CopyFromParent, InputOutput,
                          CopyFromParent, CWBackPixel | CWBitGravity | CWEventMask, &attributes);

  XStoreName(d, window_, title_.c_str());  // Latin-1 for old window managers
  set_utf8_property(x, window_, "_NET_WM_NAME", title_);
  XClassHint class_hint{const_cast<char*>("mp-agent"), const_cast<char*>("MpAgent")};
  XSetClassHint(d, window_, &class_hint);
  XSizeHints size{};
  size.flags = PPosition | PSize | PMinSize | PMaxSize;
  size.x = left, size.y = top;
  size.width = size.min_width = size.max_width = width_;
  size.height = size.min_height = size.max_height = height_;
  XSetWMNormalHints(d, window_, &size);
  XWMHints hints{};
  hints.flags = InputHint | StateHint;
  hints.input = True;
  hints.initial_state = NormalState;
  XSetWMHints(d, window_, &hints);
  // Closing from the title bar arrives as a message instead of the window manager killing the
  // agent's whole connection.
  Atom delete_window = x.atom("WM_DELETE_WINDOW");
  XSetWMProtocols(d, window_, &delete_window, 1);
  Atom type = x.atom("_NET_WM_WINDOW_TYPE");
  Atom type_value = x.atom("_NET_WM_WINDOW_TYPE_DIALOG");
  XChangeProperty(d, window_, type, XA_ATOM, 32, PropModeReplace,
                  reinterpret_cast<unsigned char*>(&type_value), 1);

  back_buffer_ = XCreatePixmap(d, window_, static_cast<unsigned>(width_),
                               static_cast<unsigned>(height_), static_cast<unsigned>(x.depth()));
  painter_ = std::make_unique<Painter>(x, back_buffer_);
  if (x.input_method() != nullptr) {
    input_context_ = XCreateIC(x.input_method(), XNInputStyle, XIMPreeditNothing | XIMStatusNothing,
                               XNClientWindow, window_, XNFocusWindow, window_, nullptr);
  }
}

DialogWindow::~DialogWindow() {
  if (input_context_ != nullptr) XDestroyIC(input_context_);
  painter_.reset();
  XFreePixmap(x_.display(), back_buffer_);
  XDestroyWindow(x_.display(), window_);
  XFlush(x_.display());
}

void DialogWindow::show() {
  XMapRaised(x_.display(), window_);
  XFlush(x_.display());
}

void DialogWindow::close() {
  if (closed_) return;
  closed_ = true;
  XUnmapWindow(x_.display(), window_);
}

void DialogWindow::redraw() { draw(); }

void DialogWindow::handle(XEvent& event) {
  switch (event.type) {
    case Expose:
      if (event.xexpose.count == 0) draw();
      break;
    case FocusIn:
    case FocusOut: {
      // Grab notifications (the lock coming and going) do not move the focus.
      if (event.xfocus.mode == NotifyGrab || event.xfocus.mode == NotifyUngrab) break;
      focused_ = event.type == FocusIn;
      if (input_context_ != nullptr) {
        focused_ ? XSetICFocus(input_context_) : XUnsetICFocus(input_context_);
      }
      draw();
      break;
    }
    case ButtonPress: {
      if (event.xbutton.button != Button1) break;
      // Without a window manager nobody gives the window the focus; a click does.
      XSetInputFocus(x_.display(), window_, RevertToPointerRoot, CurrentTime);
      pressed_button_ = -1;
      for (std::size_t i = 0; i < buttons_.size(); ++i) {
        if (dialog_layout::button(static_cast<int>(i), width_, height_)
                .contains(event.xbutton.x, event.xbutton.y)) {
          pressed_button_ = static_cast<int>(i);
        }
      }
      draw();
      break;
    }
    case ButtonRelease: {
      if (event.xbutton.button != Button1 || pressed_button_ < 0) break;
      int pressed = pressed_button_;
      pressed_button_ = -1;
      draw();
      if (dialog_layout::button(pressed, width_, height_)
              .contains(event.xbutton.x, event.xbutton.y)) {
        on_button(static_cast<std::size_t>(pressed));
      }
      break;
    }
    case KeyPress: {
      KeySym key = NoSymbol;
      std::string typed = typed_text(event.xkey, &key);
      on_key(key, typed);
      break;
    }
    case ClientMessage:
      if (event.xclient.format == 32 &&
          static_cast<Atom>(event.xclient.data.l[0]) == x_.atom("WM_DELETE_WINDOW")) {
        on_close_requested();
      }
      break;
    default:
      break;
  }
}

std::string DialogWindow::typed_text(XKeyEvent& event, KeySym* key) {
  char buffer[64];
  if (input_context_ != nullptr) {
    Status status = 0;
    int length = Xutf8LookupString(input_context_, &event, buffer, sizeof buffer - 1, key, &status);
    if (status == XBufferOverflow) {
      std::string big(static_cast<std::size_t>(length), '\0');
      length = Xutf8LookupString(input_context_, &event, big.data(), length, key, &status);
      big.resize(static_cast<std::size_t>(std::max(length, 0)));
      return status == XLookupChars || status == XLookupBoth ? big : std::string();
    }
    if (status != XLookupChars && status != XLookupBoth) length = 0;
    if (status != XLookupKeySym && status != XLookupBoth) *key = NoSymbol;
    return std::string(buffer, static_cast<std::size_t>(std::max(length, 0)));
  }
  int length = XLookupString(&event, buffer, sizeof buffer - 1, key, nullptr);
  std::string utf8;  // XLookupString gives Latin-1
  for (int i = 0; i < length; ++i) {
    auto c = static_cast<unsigned char>(buffer[i]);
    if (c < 0x80) {
      utf8 += static_cast<char>(c);
    } else {
      utf8 += static_cast<char>(0xC0 | (c >> 6));
      utf8 += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return utf8;
}

void DialogWindow::draw() {
  Painter& p = *painter_;
  p.unclip();
  p.fill(0, 0, width_, height_, colours::kWindow);
  p.fill(0, 0, width_, dialog_layout::kHeaderHeight, colours::kAccent);
  const Font& title = fonts_.title;
  p.clip(0, 0, width_ - dialog_layout::kPadding, dialog_layout::kHeaderHeight);
  p.text(title, dialog_layout::kPadding,
         (dialog_layout::kHeaderHeight + title.ascent() - title.descent()) / 2, colours::kOnAccent,
         title_);
  p.unclip();

  draw_body(p);
  p.unclip();

  for (std::size_t i = 0; i < buttons_.size(); ++i) {
    const auto& button = buttons_[i];
    auto r = dialog_layout::button(static_cast<int>(i), width_, height_);
    bool pressed = pressed_button_ == static_cast<int>(i);
    Rgb face = button.primary ? (pressed ? colours::kAccentPressed : colours::kAccent)
                              : (pressed ? colours::kSecondaryPressed : colours::kSecondaryButton);
    p.fill_rounded(r.x, r.y, r.width, r.height, 8, face);
    const Font& font = fonts_.button;
    p.text_centred(font, r.center_x(), r.y + (r.height + font.ascent() - font.descent()) / 2,
                   button.primary ? colours::kOnAccent : colours::kText, button.label);
  }
  XCopyArea(x_.display(), back_buffer_, window_, DefaultGC(x_.display(), x_.screen()), 0, 0,
            static_cast<unsigned>(width_), static_cast<unsigned>(height_), 0, 0);
  XFlush(x_.display());
}

}  // namespace mp::agent
