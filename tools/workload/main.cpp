// mp-workload: draws a known test pattern (--pattern) or a moving textured box (--box) on an X
// display, for RDP tests, demo stations and benchmarks.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <stdexcept>

#include "workload.h"

int main(int argc, char** argv) {
  CLI::App app{"mp-workload: test pattern or moving box on an X display"};
  std::string display;
  bool pattern = false, box = false;
  mp::workload::WorkloadOptions options;
  app.add_option("--display", display, "X display (default: $DISPLAY)");
  app.add_flag("--pattern", pattern, "static test pattern: four quadrants and a marker");
  app.add_flag("--box", box, "a 256x256 textured box redrawn and moved every frame");
  app.add_option("--fps", options.fps, "box frames per second")->check(CLI::Range(1, 240));
  app.add_flag("--print-input", options.print_input, "print key and button events on stdout");
  app.add_flag("--react-key", options.react_key,
               "flip a 64x64 square at the top-left corner between black and white on every key "
               "press (input-to-pixel latency); the box keeps below it");
  app.add_flag("--ticker", options.ticker,
               "pattern: a progress bar that advances every 250 ms (thumbnails change)");
  app.add_flag("--echo-keys", options.echo_keys, "pattern: show the characters typed");
  app.add_option("--seconds", options.seconds, "exit after this long (default: never)");
  CLI11_PARSE(app, argc, argv);
  if (pattern == box) {
    std::fprintf(stderr, "mp-workload: choose one of --pattern or --box\n");
    return 2;
  }
  options.mode =
      box ? mp::workload::WorkloadOptions::Mode::box : mp::workload::WorkloadOptions::Mode::pattern;
  try {
    mp::workload::Workload workload(display, options);
    return workload.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp-workload: %s\n", e.what());
    return 1;
  }
}
