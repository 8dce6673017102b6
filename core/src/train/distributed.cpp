#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO  // the Gloo process group is in every CPU build of libtorch
#endif
#include "train/distributed.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include "util/log.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

std::unique_ptr<DataParallel>& instance() {
  static std::unique_ptr<DataParallel> group;
  return group;
}

// The first line of an exception's message: c10d's carry a C++ backtrace below it.
std::string first_line(const std::string& message) {
  std::string line = message.substr(0, message.find('\n'));
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

int parse_int(const EnvironmentReader& getenv, const char* name, int low, int high) {
  const char* text = getenv(name);
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (!*text || *end || errno || value < low || value > high)
    throw Error(std::string(name) + "=" + text + ": expected an integer in [" + std::to_string(low) + ", " +
                std::to_string(high) + "]");
  return static_cast<int>(value);
}

// c10d logs its retries through glog straight to stderr; our own one-line error says the same, so
// stderr is closed while the rendezvous runs.
class QuietStderr {
 public:
  QuietStderr() : saved_(::dup(STDERR_FILENO)) {
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDERR_FILENO);
      ::close(null);
    }
  }
  ~QuietStderr() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
    }
  }
  QuietStderr(const QuietStderr&) = delete;
  QuietStderr& operator=(const QuietStderr&) = delete;

 private:
  int saved_;
};

}  // namespace

std::string first_slurm_node(const std::string& nodelist) {
  // Commas separate hosts only outside brackets: "a[1,3-4],b".
  std::string first;
  int depth = 0;
  for (const char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  const auto open = first.find('[');
  if (open == std::string::npos) return first;
  const auto close = first.find(']', open);
  if (close == std::string::npos) throw Error("SLURM_JOB_NODELIST=" + nodelist + ": unbalanced '['");
  std::string range = first.substr(open + 1, close - open - 1);
  range = range.substr(0, range.find_first_of(",-"));
  return first.substr(0, open) + range + first.substr(close + 1);
}

RankEnvironment rank_environment(const EnvironmentReader& getenv) {
  RankEnvironment env;
  const auto has = [&](const char* name) { return getenv(name) != nullptr; };
  if (has("WORLD_SIZE") || has("RANK")) {
    if (!has("WORLD_SIZE") || !has("RANK")) throw Error("RANK and WORLD_SIZE must be set together");
    env.source = "torchrun variables";
    env.world = parse_int(getenv, "WORLD_SIZE", 1, 65536);
    env.rank = parse_int(getenv, "RANK", 0, env.world - 1);
    env.local_rank = has("LOCAL_RANK") ? parse_int(getenv, "LOCAL_RANK", 0, env.world - 1) : env.rank;
    env.local_world = has("LOCAL_WORLD_SIZE") ? parse_int(getenv, "LOCAL_WORLD_SIZE", 1, env.world) : env.world;
    if (env.world > 1 && (!has("MASTER_ADDR") || !has("MASTER_PORT")))
      throw Error("WORLD_SIZE=" + std::to_string(env.world) + " needs MASTER_ADDR and MASTER_PORT (rank 0's "
                  "address and a free port)");
  } else if (has("SLURM_PROCID") && has("SLURM_NTASKS")) {
    env.source = "Slurm";
    env.world = parse_int(getenv, "SLURM_NTASKS", 1, 65536);
    env.rank = parse_int(getenv, "SLURM_PROCID", 0, env.world - 1);
    env.local_rank = has("SLURM_LOCALID") ? parse_int(getenv, "SLURM_LOCALID", 0, env.world - 1) : 0;
    if (const char* per_node = getenv("SLURM_NTASKS_PER_NODE")) {
      // "2" or "2(x3)": the count before any repetition suffix.
      env.local_world = std::max(1, std::atoi(per_node));
    }
    if (env.world > 1) {
      if (has("MASTER_ADDR")) env.master_addr = getenv("MASTER_ADDR");
      else if (has("SLURM_JOB_NODELIST")) env.master_addr = first_slurm_node(getenv("SLURM_JOB_NODELIST"));
      else throw Error("SLURM_NTASKS > 1 but neither MASTER_ADDR nor SLURM_JOB_NODELIST is set");
      env.master_port = has("MASTER_PORT") ? 0
                        : has("SLURM_JOB_ID") ? 20000 + parse_int(getenv, "SLURM_JOB_ID", 0, 2147483647) % 10000
                                               : 29500;
    }
  } else {
    return env;
  }
  if (has("MASTER_ADDR")) env.master_addr = getenv("MASTER_ADDR");
  if (has("MASTER_PORT")) env.master_port = parse_int(getenv, "MASTER_PORT", 1, 65535);
  if (env.master_addr.empty()) throw Error("MASTER_ADDR is empty: give rank 0's host name or address");
  return env;
}

RankEnvironment rank_environment() {
  return rank_environment([](const char* name) -> const char* { return std::getenv(name); });
}

std::chrono::milliseconds collective_timeout() {
  const char* text = std::getenv("WHATIF_DIST_TIMEOUT");
  if (!text) return std::chrono::seconds(300);
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (!*text || *end || !(seconds > 0) || seconds > 86400)
    throw Error(std::string("WHATIF_DIST_TIMEOUT=") + text + ": expected seconds in (0, 86400]");
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

int threads_per_rank(const RankEnvironment& env, int cores) {
  if (const char* per_task = std::getenv("SLURM_CPUS_PER_TASK"); per_task && env.source == "Slurm")
    return std::max(1, std::atoi(per_task));
  return std::max(1, cores / std::max(1, env.local_world));
}

void stop_rank(int rank, const std::string& message) {
  const std::string line = "rank " + std::to_string(rank) + ": " + message;
  // Under `whatif run --nproc` the launcher names the rank that failed first in one line; the
  // others' consequences go to their log files only.
  const bool launched = std::getenv("WHATIF_LAUNCHED") != nullptr;
  if (launched) logger()->sinks().front()->set_level(spdlog::level::off);
  logger()->error(line);
  logger()->flush();
  if (!launched) std::cerr << "error: " << line << std::endl;
  std::_Exit(kLostRankExit);
}

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
  std::chrono::milliseconds timeout;
};

DataParallel::DataParallel(int rank, int world, std::unique_ptr<Group> group)
    : rank_(rank), world_(world), group_(std::move(group)) {}

DataParallel::~DataParallel() = default;

DataParallel* DataParallel::current() { return instance().get(); }

void DataParallel::start(const RankEnvironment& env) {
  if (instance()) throw Error("data-parallel: the process group is already started");
  if (env.world <= 1) return;
  auto group = std::make_unique<Group>();
  group->timeout = collective_timeout();
  auto quiet = std::make_unique<QuietStderr>();
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  const std::string seconds = std::to_string(group->timeout.count() / 1000) + " s";
  const std::string me = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = env.world;
    options.waitWorkers = false;
    options.timeout = group->timeout;
    group->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    throw Error(me + ": cannot " + (env.rank == 0 ? "listen" : "connect") + " at " + where + " within " + seconds +
                " (" + first_line(e.what()) + "); check MASTER_ADDR/MASTER_PORT and that rank 0 is running");
  }
  c10d::Store& store = *group->store;
  try {
    // Each rank says which world it belongs to; a rank claimed twice or a world that differs is
    // refused here, before the group waits for members that will never come.
    if (store.add("whatif/rank/" + std::to_string(env.rank), 1) != 1)
      throw Error(me + ": another process already joined as rank " + std::to_string(env.rank) +
                  " (check RANK / SLURM_PROCID)");
    const std::string world = std::to_string(env.world);
    store.set("whatif/world/" + std::to_string(env.rank), std::vector<std::uint8_t>(world.begin(), world.end()));
    for (int r = 0; r < env.world; ++r) {
      const std::vector<std::uint8_t> theirs = store.get("whatif/world/" + std::to_string(r));
      if (std::string(theirs.begin(), theirs.end()) != world)
        throw Error(me + ": rank " + std::to_string(r) + " was started with a world size of " +
                    std::string(theirs.begin(), theirs.end()) + ", this one with " + world +
                    " (WORLD_SIZE / SLURM_NTASKS must agree)");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(me + ": not every rank joined at " + where + " within " + seconds + " (" + first_line(e.what()) +
                "); are all " + std::to_string(env.world) + " ranks started?");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(group->timeout);
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    const bool loopback = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
    options->devices.push_back(interface  ? c10d::ProcessGroupGloo::createDeviceForInterface(interface)
                               : loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                          : c10d::ProcessGroupGloo::createDefaultDevice());
    group->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, env.rank, env.world, options);
  } catch (const std::exception& e) {
    throw Error(me + ": cannot connect the Gloo process group within " + seconds + " (" + first_line(e.what()) +
                "); on several nodes set GLOO_SOCKET_IFNAME to the interface the nodes share");
  }
  quiet.reset();
  logger()->info("data-parallel: rank {} of {} (local {} of {}) via {}, Gloo, rendezvous {}, timeout {}", env.rank,
                 env.world, env.local_rank, env.local_world, env.source, where, seconds);
  instance().reset(new DataParallel(env.rank, env.world, std::move(group)));
}

void DataParallel::broadcast(const std::vector<at::Tensor>& tensors, const std::string& what) {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    for (const at::Tensor& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group_->gloo->broadcast(one));
    }
    for (auto& w : works) w->wait(group_->timeout);
  } catch (const std::exception& e) {
    stop_rank(rank_, "broadcast of " + what + " failed (" + first_line(e.what()) +
                         "): another rank stopped or did not answer within the collective timeout");
  }
}

void DataParallel::all_reduce_sum(const std::vector<at::Tensor>& tensors, const std::string& what) {
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    // Issued together: Gloo's worker threads reduce one bucket while the next is on the wire.
    for (const at::Tensor& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group_->gloo->allreduce(one));
    }
    for (auto& w : works) w->wait(group_->timeout);
  } catch (const std::exception& e) {
    stop_rank(rank_, "all-reduce of " + what + " failed (" + first_line(e.what()) +
                         "): another rank stopped or did not answer within the collective timeout");
  }
}

bool DataParallel::same_everywhere(std::int64_t value, const std::string& what) {
  at::Tensor both = at::tensor({value, -value}, at::kLong);
  try {
    std::vector<at::Tensor> one{both};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    group_->gloo->allreduce(one, options)->wait(group_->timeout);
  } catch (const std::exception& e) {
    stop_rank(rank_, "comparing " + what + " across ranks failed (" + first_line(e.what()) +
                         "): another rank stopped or did not answer within the collective timeout");
  }
  return both[0].item<std::int64_t>() == value && both[1].item<std::int64_t>() == -value;
}

void all_reduce_gradients(DataParallel& group, const std::vector<at::Tensor>& params, at::Tensor& scalars,
                          const std::string& what) {
  constexpr std::int64_t kBucketBytes = 25 << 20;  // DDP's default bucket size
  struct Slot {
    std::size_t param;
    std::int64_t offset;
  };
  struct Bucket {
    at::ScalarType type;
    std::int64_t elements = 0;
    std::vector<Slot> slots;
    at::Tensor flat;
  };
  std::vector<Bucket> buckets;
  std::map<at::ScalarType, std::size_t> open;  // the bucket being filled, per dtype
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::ScalarType type = params[i].scalar_type();
    const std::int64_t n = params[i].numel();
    auto it = open.find(type);
    if (it == open.end() ||
        (buckets[it->second].elements + n) * static_cast<std::int64_t>(at::elementSize(type)) > kBucketBytes) {
      buckets.push_back(Bucket{type, 0, {}, {}});
      it = open.insert_or_assign(type, buckets.size() - 1).first;
    }
    Bucket& b = buckets[it->second];
    b.slots.push_back({i, b.elements});
    b.elements += n;
  }
  // Whether a rank has a gradient, per parameter, rides along with the scalars.
  const auto n_scalars = scalars.numel();
  at::Tensor extra = at::cat({scalars.to(at::kDouble).reshape({-1}),
                              at::zeros({static_cast<std::int64_t>(params.size())}, at::kDouble)});
  double* has_gradient = extra.data_ptr<double>() + n_scalars;
  std::vector<at::Tensor> flats;
  for (Bucket& b : buckets) {
    b.flat = at::zeros({b.elements}, at::TensorOptions().dtype(b.type));
    for (const Slot& s : b.slots) {
      const at::Tensor& g = params[s.param].grad();
      if (!g.defined()) continue;
      b.flat.narrow(0, s.offset, g.numel()).copy_(g.reshape({-1}));
      has_gradient[s.param] = 1.0;
    }
    flats.push_back(b.flat);
  }
  flats.push_back(extra);
  group.all_reduce_sum(flats, what);
  for (const Bucket& b : buckets)
    for (const Slot& s : b.slots) {
      at::Tensor p = params[s.param];
      if (has_gradient[s.param] == 0) {
        p.mutable_grad() = at::Tensor();
        continue;
      }
      p.mutable_grad() = b.flat.narrow(0, s.offset, p.numel()).view(p.sizes());
    }
  scalars.copy_(extra.narrow(0, 0, n_scalars).to(scalars.scalar_type()));
}

}  // namespace whatif
