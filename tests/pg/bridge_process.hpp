#pragma once
// Runs the real coi-bridge binary for process-level tests: start, wait for /ready, stop with
// a signal, or kill it hard.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace coibridge::testing {

// A TCP port that was free a moment ago on 127.0.0.1.
std::uint16_t free_port();

class BridgeProcess {
 public:
  // args: after the binary, e.g. {"run", "--config", path}. Output goes to log_path.
  BridgeProcess(std::vector<std::string> args, std::string log_path);
  ~BridgeProcess();  // kills a process still running

  void start();
  // Polls GET /ready on 127.0.0.1:port until it answers 200; false on timeout or early exit.
  bool wait_ready(std::uint16_t port, std::chrono::seconds limit = std::chrono::seconds(60));
  // Sends sig and waits for the exit; returns the exit code (128+N when killed by signal N),
  // or -1 when it did not exit within limit.
  int stop(int sig, std::chrono::seconds limit = std::chrono::seconds(30));
  bool running() const { return pid_ > 0; }
  std::string log() const;

  // Runs the binary to completion and returns its exit code; output in log_path.
  static int run_to_end(const std::vector<std::string>& args, const std::string& log_path);

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// Reads a whole file ("" when missing).
std::string read_file(const std::string& path);

}  // namespace coibridge::testing
