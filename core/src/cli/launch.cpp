#include "cli/launch.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "host/host.hpp"
#include "train/distributed.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

volatile sig_atomic_t forwarded_signal = 0;

void remember_signal(int signal) { forwarded_signal = signal; }

// A port the kernel just handed out on loopback: free unless another process takes it in between.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("--nproc: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw Error(std::string("--nproc: cannot find a free port on 127.0.0.1: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    const int s = WTERMSIG(status);
    return "was killed by signal " + std::to_string(s) + " (" + (sigabbrev_np(s) ? sigabbrev_np(s) : "?") + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

bool failed(int status) { return !WIFEXITED(status) || WEXITSTATUS(status) != 0; }

// Stopped because another rank did (it said so with kLostRankExit), not a cause.
bool consequence(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == kLostRankExit; }

}  // namespace

std::string self_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error("cannot find the whatif executable (/proc/self/exe): " + error.message());
  return path.string();
}

int launch_local_ranks(int nproc, const std::vector<std::string>& run_args) {
  if (nproc < 1 || nproc > 256) throw Error("--nproc " + std::to_string(nproc) + ": expected 1 to 256 ranks");
  if (std::getenv("RANK") || std::getenv("WORLD_SIZE"))
    throw Error("--nproc starts its own ranks: unset RANK and WORLD_SIZE, or drop --nproc to join that job");
  if (nproc > 1 && std::find(run_args.begin(), run_args.end(), "--fresh") != run_args.end())
    throw Error("--fresh with " + std::to_string(nproc) + " data-parallel ranks: the ranks could not agree on what "
                "it discarded; remove the run directory (or its arm results) instead");
  const std::string self = self_executable();
  const int port = free_port();
  const bool threads_given = std::getenv("WHATIF_THREADS") ||
                             std::any_of(run_args.begin(), run_args.end(), [](const std::string& a) {
                               return a == "--threads" || a.rfind("--threads=", 0) == 0;
                             });
  const int cores = core_count();
  const std::string threads = std::to_string(std::max(1, cores / nproc));
  std::map<pid_t, int> ranks;  // running children → rank
  struct sigaction action{};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  for (const int s : {SIGINT, SIGTERM}) ::sigaction(s, &action, nullptr);
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("--nproc: cannot start a rank: ") + std::strerror(errno));
    if (pid == 0) {
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("WHATIF_LAUNCHED", "1", 1);  // the launcher reports failures; ranks stay quiet about them
      if (!threads_given) {
        ::setenv("WHATIF_THREADS", threads.c_str(), 1);
        ::setenv("OMP_NUM_THREADS", threads.c_str(), 1);
      }
      std::vector<std::string> args{self, "run"};
      args.insert(args.end(), run_args.begin(), run_args.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(self.c_str(), argv.data());
      std::cerr << "error: rank " << rank << ": cannot start " << self << ": " << std::strerror(errno) << "\n";
      ::_exit(127);
    }
    ranks[pid] = rank;
  }
  int culprit = -1, culprit_status = 0;
  pid_t culprit_pid = 0;
  const auto stop_all = [&](int signal) {
    for (const auto& [pid, rank] : ranks) ::kill(pid, signal);
  };
  const auto reap = [&](bool block) -> bool {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return false;
    const auto it = ranks.find(pid);
    if (it == ranks.end()) return true;
    // The first failure that is a cause names the culprit; a rank that only lost its peers names it
    // when no cause shows up.
    if (failed(status) && (culprit < 0 || (consequence(culprit_status) && !consequence(status)))) {
      culprit = it->second;
      culprit_status = status;
      culprit_pid = pid;
    }
    ranks.erase(it);
    return true;
  };
  while (!ranks.empty() && culprit < 0) {
    if (forwarded_signal) {
      stop_all(forwarded_signal);
      forwarded_signal = 0;
    }
    if (!reap(true) && errno != EINTR) break;
  }
  if (culprit >= 0 && !ranks.empty()) {
    // Give a rank that failed at the same moment a chance to be the cause, then stop the rest.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!ranks.empty() && consequence(culprit_status) && std::chrono::steady_clock::now() < until)
      if (!reap(false)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop_all(SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!ranks.empty() && std::chrono::steady_clock::now() < deadline)
      if (!reap(false)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop_all(SIGKILL);
    while (!ranks.empty() && reap(true)) {
    }
  }
  if (culprit < 0) return 0;
  std::cerr << "error: rank " << culprit << " (pid " << culprit_pid << ") " << describe(culprit_status)
            << "; stopped all " << nproc << " ranks (rank logs: whatif.log, whatif.rank<N>.log)" << std::endl;
  return 1;
}

}  // namespace whatif
