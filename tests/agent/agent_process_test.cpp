// The real mp-agent on a real Xvfb, with the test playing mp-session on a real ROUTER socket:
// what the student would see (screenshots) and what their keyboard reaches (XTest).
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <algorithm>

#include <cstring>
#include <iostream>
#include <thread>

#include "fake_session.h"
#include "mp/bus/frame.h"
#include "support/process.h"

// Xlib defines None, Bool and Success as macros: after gtest and capnp.
#include <X11/Xlib.h>
#include <X11/extensions/Xrandr.h>
#include <X11/keysym.h>

#include "palette.h"
#include "xvfb_display.h"

#include <turbojpeg.h>

namespace mp::test {
namespace {

using namespace std::chrono_literals;
namespace layout = mp::agent::dialog_layout;

constexpr std::uint32_t kLockColour = mp::agent::colours::kLockBackground.packed();
constexpr std::uint32_t kLockTextColour = mp::agent::colours::kLockText.packed();
constexpr std::uint64_t kSessionId = 42;

std::filesystem::path screenshot_dir() {
  const char* dir = std::getenv("MP_AGENT_SCREENSHOT_DIR");
  return dir != nullptr ? dir : "/tmp";
}

// The lock as the student sees it: everything outside the central area (where the padlock and
// the message may be) is the lock colour, and the centre holds text drawn in the text colour.
bool shows_lock(const Screenshot& shot) {
  const int margin_x =
      static_cast<int>(shot.width * (1 - mp::agent::lock_layout::kMaxWidthShare) / 2) - 1;
  const int margin_y =
      static_cast<int>(shot.height * (1 - mp::agent::lock_layout::kMaxHeightShare) / 2) - 1;
  const int w = shot.width, h = shot.height;
  const std::size_t outside =
      std::size_t(w) * h - std::size_t(w - 2 * margin_x) * (h - 2 * margin_y);
  std::size_t lock_coloured =
      shot.count(kLockColour, 0, 0, w, margin_y) +
      shot.count(kLockColour, 0, h - margin_y, w, margin_y) +
      shot.count(kLockColour, 0, margin_y, margin_x, h - 2 * margin_y) +
      shot.count(kLockColour, w - margin_x, margin_y, margin_x, h - 2 * margin_y);
  if (lock_coloured != outside) return false;
  std::size_t text =
      shot.count(kLockTextColour, margin_x, margin_y, w - 2 * margin_x, h - 2 * margin_y);
  return text > 300;
}

bool shows_desktop(const Screenshot& shot) {
  return shot.count(DesktopWindow::kColour, 0, 0, shot.width, shot.height) ==
         std::size_t(shot.width) * shot.height;
}

class AgentProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::directory_iterator(x_.dir().path())) {
        if (entry.path().extension() == ".log") {
          std::cerr << "---- " << entry.path() << "\n" << read_file(entry.path());
        }
      }
    }
  }

  std::unique_ptr<ChildProcess> start_agent() {
    auto env = x_.client_environment();
    env["MP_AGENT_ENDPOINT"] = endpoint_;
    return std::make_unique<ChildProcess>(
        bin_dir() / "mp-agent",
        std::vector<std::string>{"--session-id", std::to_string(kSessionId), "--log-level",
                                 "debug"},
        ChildProcess::Options{.env = env, .output_file = x_.dir() / "agent.log"});
  }

  // The agent's heartbeats after it applied the session's current state.
  bool heartbeat_says(pid_t pid, bool lock_shown) {
    for (const auto& h : session_->heartbeats_from(pid)) {
      if (h.state_incarnation == session_->incarnation() && h.lock_shown == lock_shown &&
          h.at > session_->last_state_sent()) {
        return true;
      }
    }
    return false;
  }

  bool lock_within(std::chrono::milliseconds timeout) {
    return eventually([this] { return shows_lock(x_.screenshot()); }, timeout);
  }

  XvfbDisplay x_;
  std::string endpoint_ = "ipc://" + (x_.dir() / "agent.sock").string();
  std::unique_ptr<FakeSession> session_ = std::make_unique<FakeSession>(endpoint_);
};

TEST_F(AgentProcessTest, HeartbeatsSayWhoItIsAndWhichStateItApplied) {
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  auto first = session_->heartbeats().front();
  EXPECT_EQ(first.session_id, kSessionId);
  EXPECT_EQ(first.pid, agent->pid());
  EXPECT_EQ(first.display, x_.name());
  EXPECT_EQ(first.state_incarnation, 0u);  // nothing applied yet
  EXPECT_FALSE(first.lock_shown);
  // The session answered it with its state; later heartbeats name that state, and keep coming.
  ASSERT_TRUE(eventually(
      [&] {
        auto last = session_->last_heartbeat();
        return session_->heartbeats().size() >= 4 && last &&
               last->state_incarnation == session_->incarnation() && last->state_version == 1;
      },
      5s));
  EXPECT_TRUE(agent->running());
}

TEST_F(AgentProcessTest, LockCoversTheDisplayWithTheMessageWithinASecond) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  ASSERT_TRUE(shows_desktop(x_.screenshot()));

  session_->set_state({.locked = true, .lock_message = "Eyes on the teacher, please."});
  EXPECT_TRUE(lock_within(1s));
  EXPECT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 2s));
  x_.screenshot().save_png(screenshot_dir() / "mp-agent-lock.png");

  // A longer message wraps and shrinks but stays inside the lock's central area.
  session_->set_state({.locked = true,
                       .lock_message = std::string(30, 'W') + " " +
                                       "Please put your pens down and look at the board: we "
                                       "are going to talk about the homework for next week."});
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(lock_within(1s));
  x_.screenshot().save_png(screenshot_dir() / "mp-agent-lock-long.png");
}

TEST_F(AgentProcessTest, LockKeepsInputFromTheDesktopAndUnlockGivesItBack) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  x_.type_text("a");
  ASSERT_TRUE(eventually(
      [&] {
        desktop.collect();
        return desktop.keys() == 1;
      },
      2s))
      << "the test's own input does not reach the desktop window";

  session_->set_state({.locked = true, .lock_message = "Locked"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 2s));
  x_.type_text("bcd");
  x_.press_key(XK_Return);
  x_.click(500, 300);
  std::this_thread::sleep_for(300ms);
  desktop.collect();
  EXPECT_EQ(desktop.keys(), 1);
  EXPECT_EQ(desktop.clicks(), 0);
  EXPECT_TRUE(shows_lock(x_.screenshot()));

  session_->set_state({.locked = false});
  EXPECT_TRUE(eventually([&] { return shows_desktop(x_.screenshot()); }, 1s));
  EXPECT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), false); }, 2s));
  x_.type_text("e");
  x_.click(500, 300);
  EXPECT_TRUE(eventually(
      [&] {
        desktop.collect();
        return desktop.keys() == 2;
      },
      2s));
  EXPECT_EQ(desktop.clicks(), 1);
}

TEST_F(AgentProcessTest, LockWaitsOutAnotherClientsGrab) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  ASSERT_EQ(XGrabKeyboard(x_.display(), desktop.window(), False, GrabModeAsync, GrabModeAsync,
                          CurrentTime),
            GrabSuccess);
  XSync(x_.display(), False);
  session_->set_state({.locked = true, .lock_message = "Locked"});
  // Shown, but without the keyboard it does not claim to be: lockShown stays false.
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), false); }, 2s));
  EXPECT_FALSE(heartbeat_says(agent->pid(), true));
  XUngrabKeyboard(x_.display(), CurrentTime);
  XSync(x_.display(), False);
  EXPECT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 2s));
  desktop.collect();
  int keys_before = desktop.keys();
  x_.type_text("xyz");
  std::this_thread::sleep_for(200ms);
  desktop.collect();
  EXPECT_EQ(desktop.keys(), keys_before);
}

TEST_F(AgentProcessTest, LockStaysOnTopOfWindowsMappedAboveIt) {
  auto agent = start_agent();
  session_->set_state({.locked = true, .lock_message = "Locked"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 5s));
  // Another client maps a window of its own above everything (as a popup or a game would).
  XSetWindowAttributes attributes{};
  attributes.override_redirect = True;
  attributes.background_pixel = 0xFF0000;
  Window intruder =
      XCreateWindow(x_.display(), x_.root(), 100, 100, 400, 300, 0, CopyFromParent, InputOutput,
                    CopyFromParent, CWOverrideRedirect | CWBackPixel, &attributes);
  XMapRaised(x_.display(), intruder);
  XSync(x_.display(), False);
  EXPECT_TRUE(lock_within(1s));
  XRaiseWindow(x_.display(), intruder);
  XSync(x_.display(), False);
  EXPECT_TRUE(lock_within(1s));
  XDestroyWindow(x_.display(), intruder);
  XSync(x_.display(), False);
}

// Changes the root's size with RandR as a display settings tool would: the CRTC is switched
// off, the screen resized, and the CRTC switched back on if a mode of that size exists.
// Returns false if the X server did not take the size.
bool set_screen_size(XvfbDisplay& x, int width, int height) {
  Display* d = x.display();
  XRRScreenResources* resources = XRRGetScreenResources(d, x.root());
  if (resources == nullptr || resources->ncrtc < 1 || resources->noutput < 1) return false;
  RRCrtc crtc = resources->crtcs[0];
  XRRSetCrtcConfig(d, resources, crtc, CurrentTime, 0, 0, None, RR_Rotate_0, nullptr, 0);
  XRRSetScreenSize(d, x.root(), width, height, width / 4, height / 4);
  for (int i = 0; i < resources->nmode; ++i) {
    if (static_cast<int>(resources->modes[i].width) == width &&
        static_cast<int>(resources->modes[i].height) == height) {
      XRRSetCrtcConfig(d, resources, crtc, CurrentTime, 0, 0, resources->modes[i].id, RR_Rotate_0,
                       &resources->outputs[0], 1);
    }
  }
  XRRFreeScreenResources(resources);
  XSync(d, False);
  return eventually(
      [&] {
        XWindowAttributes attributes;
        XGetWindowAttributes(d, x.root(), &attributes);
        return attributes.width == width && attributes.height == height;
      },
      1s);
}

TEST_F(AgentProcessTest, LockFollowsTheDisplaySize) {
  auto agent = start_agent();
  session_->set_state({.locked = true, .lock_message = "Locked"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 5s));
  ASSERT_TRUE(set_screen_size(x_, 800, 600));
  EXPECT_TRUE(lock_within(1s));
  ASSERT_TRUE(set_screen_size(x_, 1024, 768));
  // Grown back: the overlay must cover the new area too, message re-centred.
  EXPECT_TRUE(lock_within(1s));
}

TEST_F(AgentProcessTest, KilledAgentLocksAgainFromItsFirstHeartbeat) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  session_->set_state({.locked = true, .lock_message = "Test in progress"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 5s));
  agent->signal(SIGKILL);
  agent->wait(5s);
  // The X server drops a dead client's windows and grabs: the desktop is bare.
  ASSERT_TRUE(eventually([&] { return shows_desktop(x_.screenshot()); }, 2s));

  auto restarted = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats_from(restarted->pid()).empty(); }, 5s));
  auto first = session_->heartbeats_from(restarted->pid()).front();
  EXPECT_EQ(first.state_incarnation, 0u);
  // Timed from the first heartbeat: the session answers it with the state at once.
  auto deadline = first.at + 1s;
  EXPECT_TRUE(lock_within(std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now())));
  EXPECT_TRUE(eventually([&] { return heartbeat_says(restarted->pid(), true); }, 2s));
}

TEST_F(AgentProcessTest, SessionServiceRestartKeepsTheLockAndHeartbeatsResume) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  session_->set_state({.locked = true, .lock_message = "Locked"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 5s));
  session_.reset();  // mp-session gone
  std::this_thread::sleep_for(700ms);
  EXPECT_TRUE(agent->running());
  EXPECT_TRUE(shows_lock(x_.screenshot()));
  x_.type_text("q");
  std::this_thread::sleep_for(100ms);
  desktop.collect();
  EXPECT_EQ(desktop.keys(), 0);

  session_ = std::make_unique<FakeSession>(endpoint_,
                                           DesiredState{.locked = true, .lock_message = "Locked"});
  EXPECT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 3s));
  EXPECT_TRUE(shows_lock(x_.screenshot()));
}

TEST_F(AgentProcessTest, MessageAnsweredWithSendComesBackAsReply) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  session_->show_message(7, "Ms. Rivera",
                         "Have you finished exercise 3? If you are stuck, "
                         "tell me which part and I will come to your desk.");
  std::optional<Window> window;
  ASSERT_TRUE(eventually(
      [&] { return (window = x_.find_window("Message from Ms. Rivera")).has_value(); }, 2s));
  int wx, wy, ww, wh;
  x_.geometry(*window, &wx, &wy, &ww, &wh);
  auto field = layout::answer_field(ww, wh);
  x_.click(wx + field.center_x(), wy + field.center_y());
  ASSERT_TRUE(eventually(
      [&] {
        Window focus;
        int revert;
        XGetInputFocus(x_.display(), &focus, &revert);
        return focus == *window;
      },
      2s));
  x_.type_text("Yes, page 42 is done!");
  std::this_thread::sleep_for(150ms);
  x_.screenshot().crop(wx, wy, ww, wh).save_png(screenshot_dir() / "mp-agent-message.png");

  auto send = layout::button(0, ww, wh);
  x_.click(wx + send.center_x(), wy + send.center_y());
  ASSERT_TRUE(eventually([&] { return !session_->replies().empty(); }, 2s));
  EXPECT_EQ(session_->replies().front().message_id, 7u);
  EXPECT_EQ(session_->replies().front().text, "Yes, page 42 is done!");
  EXPECT_TRUE(eventually([&] { return !x_.find_window("Message from").has_value(); }, 2s));
  desktop.collect();
  EXPECT_EQ(desktop.keys(), 0);
}

TEST_F(AgentProcessTest, SeveralMessagesOpenAndEnterSendsTheAnswer) {
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  session_->show_message(11, "Mr. Okafor", "First question");
  session_->show_message(12, "Mr. Okafor", "Second question");
  ASSERT_TRUE(
      eventually([&] { return x_.find_windows("Message from Mr. Okafor").size() == 2; }, 2s));
  // The later one is on top; answer it with Enter, then close the other with Close.
  auto windows = x_.find_windows("Message from Mr. Okafor");
  Window top = windows.back();
  int wx, wy, ww, wh;
  x_.geometry(top, &wx, &wy, &ww, &wh);
  auto field = layout::answer_field(ww, wh);
  x_.click(wx + field.center_x(), wy + field.center_y());
  ASSERT_TRUE(eventually(
      [&] {
        Window focus;
        int revert;
        XGetInputFocus(x_.display(), &focus, &revert);
        return focus == top;
      },
      2s));
  x_.type_text("ok");
  x_.press_key(XK_Return);
  ASSERT_TRUE(eventually([&] { return session_->replies().size() == 1; }, 2s));
  EXPECT_EQ(session_->replies()[0].message_id, 12u);
  EXPECT_EQ(session_->replies()[0].text, "ok");

  ASSERT_TRUE(
      eventually([&] { return x_.find_windows("Message from Mr. Okafor").size() == 1; }, 2s));
  Window other = x_.find_windows("Message from Mr. Okafor").front();
  x_.geometry(other, &wx, &wy, &ww, &wh);
  auto close = layout::button(1, ww, wh);
  x_.click(wx + close.center_x(), wy + close.center_y());
  EXPECT_TRUE(eventually([&] { return x_.find_windows("Message from").empty(); }, 2s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(session_->replies().size(), 1u);  // Close answers nothing
}

TEST_F(AgentProcessTest, PrivacyNoticeOkIsAcknowledgedOnce) {
  const std::string notice =
      "Your activities on this computer may be monitored by your teacher, who can see your "
      "screen and lock this station.";
  session_->set_state({.privacy_notice = notice});
  auto agent = start_agent();
  std::optional<Window> window;
  ASSERT_TRUE(
      eventually([&] { return (window = x_.find_window("Privacy notice")).has_value(); }, 5s));
  int wx, wy, ww, wh;
  x_.geometry(*window, &wx, &wy, &ww, &wh);
  std::this_thread::sleep_for(100ms);
  x_.screenshot().crop(wx, wy, ww, wh).save_png(screenshot_dir() / "mp-agent-notice.png");
  auto ok = layout::button(0, ww, wh);
  x_.click(wx + ok.center_x(), wy + ok.center_y());
  ASSERT_TRUE(eventually([&] { return session_->notice_acknowledgements() == 1; }, 2s));
  EXPECT_TRUE(eventually([&] { return !x_.find_window("Privacy notice").has_value(); }, 2s));
  // mp-session has not stored the acknowledgement yet and sends the notice again: not reshown.
  session_->set_state({.privacy_notice = notice});
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(x_.find_window("Privacy notice").has_value());
  EXPECT_EQ(session_->notice_acknowledgements(), 1);
}

// An envelope whose union says agentState while its pointer holds bytes: reading it as a
// struct throws inside capnp, after the frame passed validation.
std::string state_tag_on_a_data_pointer() {
  mp::bus::Outgoing out;
  out.envelope().initHeader().setSource("session");
  out.envelope().setProbe(kj::StringPtr("not a struct").asBytes());
  auto frame = out.to_frame();
  std::string bytes(static_cast<const char*>(frame.data()), frame.size());
  std::uint32_t segments;
  std::memcpy(&segments, bytes.data(), 4);
  EXPECT_EQ(segments, 0u);  // one segment: the table is one word
  std::uint64_t root;
  std::memcpy(&root, bytes.data() + 8, 8);
  std::int32_t offset = static_cast<std::int32_t>(root & 0xFFFFFFFF) >> 2;
  std::size_t data = 8 + 8 + std::size_t(offset) * 8;
  auto discriminant_offset =
      capnp::Schema::from<mp::schema::Envelope>().getProto().getStruct().getDiscriminantOffset();
  std::uint16_t tag;
  std::memcpy(&tag, bytes.data() + data + discriminant_offset * 2, 2);
  EXPECT_EQ(tag, static_cast<std::uint16_t>(mp::schema::Envelope::PROBE));
  tag = static_cast<std::uint16_t>(mp::schema::Envelope::AGENT_STATE);
  std::memcpy(bytes.data() + data + discriminant_offset * 2, &tag, 2);
  return bytes;
}

TEST_F(AgentProcessTest, GarbageOnTheChannelCrashesNothing) {
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  mp::bus::Outgoing unknown;
  unknown.envelope().initHeader().setSource("session");
  unknown.envelope().initStationDetach();
  auto unknown_frame = unknown.to_frame();
  mp::bus::Outgoing valid;
  valid.envelope().initAgentShowMessage().setText("x");
  auto valid_frame = valid.to_frame();
  const std::string valid_bytes(static_cast<const char*>(valid_frame.data()), valid_frame.size());

  session_->send_raw({""});
  session_->send_raw({"hello"});
  session_->send_raw({std::string(64, '\xff')});
  session_->send_raw({std::string(4096, '\0')});
  session_->send_raw({valid_bytes.substr(0, valid_bytes.size() - 8)});  // truncated
  session_->send_raw({valid_bytes, valid_bytes});                       // two frames
  session_->send_raw(
      {std::string(static_cast<const char*>(unknown_frame.data()), unknown_frame.size())});
  session_->send_raw({state_tag_on_a_data_pointer()});
  session_->send_raw({std::string(2 << 20, 'A')});  // past ZMQ_MAXMSGSIZE: the link drops
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(agent->running());
  EXPECT_FALSE(x_.find_window("Message from").has_value());

  // Still working: heartbeats keep coming (over a reconnected link) and a lock still locks.
  auto before = session_->heartbeats().size();
  ASSERT_TRUE(eventually([&] { return session_->heartbeats().size() > before + 2; }, 3s));
  session_->set_state({.locked = true, .lock_message = "Still here"});
  EXPECT_TRUE(lock_within(2s));
  EXPECT_TRUE(agent->running());
  EXPECT_NE(read_file(x_.dir() / "agent.log").find("unreadable message"), std::string::npos);
}

TEST_F(AgentProcessTest, SigtermEndsTheAgentCleanly) {
  auto agent = start_agent();
  session_->set_state({.locked = true, .lock_message = "Locked"});
  ASSERT_TRUE(eventually([&] { return heartbeat_says(agent->pid(), true); }, 5s));
  EXPECT_EQ(agent->stop(5s), 0);
}

TEST_F(AgentProcessTest, LostDisplayEndsTheAgentWithAnError) {
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  x_.kill_server();
  auto code = agent->wait(5s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3);
}

// A pixel of a JPEG thumbnail, decoded, at a fraction of its width and height.
std::uint32_t jpeg_pixel(const std::string& jpeg, double fx, double fy) {
  tjhandle handle = tjInitDecompress();
  int width = 0, height = 0, subsampling = 0, colourspace = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(jpeg.data());
  std::uint32_t centre = 0xFFFFFFFF;
  if (tjDecompressHeader3(handle, data, jpeg.size(), &width, &height, &subsampling, &colourspace) ==
      0) {
    std::vector<unsigned char> rgb(std::size_t(width) * height * 3);
    if (tjDecompress2(handle, data, jpeg.size(), rgb.data(), width, 0, height, TJPF_RGB, 0) == 0) {
      int x = std::clamp(int(fx * width), 0, width - 1);
      int y = std::clamp(int(fy * height), 0, height - 1);
      const auto* p = &rgb[(std::size_t(y) * width + x) * 3];
      centre = (std::uint32_t(p[0]) << 16) | (p[1] << 8) | p[2];
    }
  }
  tjDestroy(handle);
  return centre;
}

std::uint32_t jpeg_centre(const std::string& jpeg) { return jpeg_pixel(jpeg, 0.5, 0.5); }

bool close_colour(std::uint32_t a, std::uint32_t b) {
  for (int shift : {0, 8, 16}) {
    if (std::abs(int((a >> shift) & 0xff) - int((b >> shift) & 0xff)) > 16) return false;
  }
  return true;
}

TEST_F(AgentProcessTest, ThumbnailsShowTheScreenWhileLeasedAndStopAfter) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  session_->request_thumbnails(0, 200, 320, 10240, 1500);
  ASSERT_TRUE(eventually([&] { return !session_->thumbnails().empty(); }, 3s));
  auto first = session_->thumbnails().front();
  EXPECT_EQ(first.stream, 0);
  EXPECT_EQ(first.width, 320);
  EXPECT_EQ(first.height, 240);
  EXPECT_LE(first.jpeg.size(), 10240u);
  EXPECT_TRUE(close_colour(jpeg_centre(first.jpeg), DesktopWindow::kColour))
      << std::hex << jpeg_centre(first.jpeg);

  // Unchanged: not sent again. Changed: sent within an interval or two.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(session_->thumbnails().size(), 1u);
  XSetWindowBackground(x_.display(), desktop.window(), 0xC62828);
  XClearWindow(x_.display(), desktop.window());
  XSync(x_.display(), False);
  ASSERT_TRUE(eventually([&] { return session_->thumbnails().size() >= 2; }, 1s));
  EXPECT_TRUE(close_colour(jpeg_centre(session_->thumbnails().back().jpeg), 0xC62828));

  // A change in a few rows near the bottom (only those rows are read again): it shows where it
  // is, and the rest of the picture stays as it was.
  std::size_t before = session_->thumbnails().size();
  Window patch =
      XCreateSimpleWindow(x_.display(), desktop.window(), 448, 600, 128, 100, 0, 0, 0x6A1B9A);
  XMapWindow(x_.display(), patch);
  XSync(x_.display(), False);
  ASSERT_TRUE(eventually([&] { return session_->thumbnails().size() > before; }, 1s));
  const std::string patched = session_->thumbnails().back().jpeg;
  EXPECT_TRUE(close_colour(jpeg_pixel(patched, 0.5, 650.0 / 768), 0x6A1B9A))
      << std::hex << jpeg_pixel(patched, 0.5, 650.0 / 768);
  EXPECT_TRUE(close_colour(jpeg_pixel(patched, 0.5, 0.1), 0xC62828))
      << std::hex << jpeg_pixel(patched, 0.5, 0.1);
  EXPECT_TRUE(close_colour(jpeg_centre(patched), 0xC62828));
  EXPECT_TRUE(close_colour(jpeg_pixel(patched, 0.2, 650.0 / 768), 0xC62828));
  XDestroyWindow(x_.display(), patch);
  XSync(x_.display(), False);

  // Nobody renews the lease: no more images, whatever the screen does.
  std::this_thread::sleep_for(1500ms);
  auto count = session_->thumbnails().size();
  XSetWindowBackground(x_.display(), desktop.window(), 0x1565C0);
  XClearWindow(x_.display(), desktop.window());
  XSync(x_.display(), False);
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(session_->thumbnails().size(), count);
}

TEST_F(AgentProcessTest, TakeControlTypesAnyCharacterMovesAndClicks) {
  DesktopWindow desktop(x_);
  auto agent = start_agent();
  ASSERT_TRUE(eventually([&] { return !session_->heartbeats().empty(); }, 5s));
  // "Hi!" needs Shift twice; e-acute is on no key of Xvfb's keymap (bound on the fly).
  std::vector<std::uint32_t> keysyms = {'H', 'i', '!', 0xE9};
  session_->send_body([&](mp::schema::Envelope::Builder e) {
    auto events = e.initAgentInput().initEvents(static_cast<unsigned>(keysyms.size() * 2 + 3));
    unsigned i = 0;
    for (auto keysym : keysyms) {
      for (bool down : {true, false}) {
        auto key = events[i++].initKey();
        key.setKeysym(keysym);
        key.setDown(down);
      }
    }
    auto move = events[i++].initPointer();
    move.setX(32768);  // the middle of a 1024x768 screen
    move.setY(16384);  // a quarter down
    auto press = events[i++].initButton();
    press.setButton(3);
    press.setDown(true);
    auto release = events[i++].initButton();
    release.setButton(3);
    release.setDown(false);
  });
  ASSERT_TRUE(eventually(
      [&] {
        desktop.collect();
        return desktop.typed().size() >= 4 && desktop.clicks() == 1;
      },
      3s))
      << "typed '" << desktop.typed() << "', " << desktop.clicks() << " clicks";
  EXPECT_EQ(desktop.typed(), "Hi!\xE9");
  auto click = desktop.last_click();
  EXPECT_NEAR(click[0], 511, 1);
  EXPECT_NEAR(click[1], 191, 1);
  EXPECT_EQ(click[2], 3);
}

}  // namespace
}  // namespace mp::test
