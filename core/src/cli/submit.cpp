#include "cli/submit.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli/launch.hpp"
#include "cli/parse.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace whatif {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Slurm's --time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
bool slurm_time(const std::string& t) {
  if (t.empty() || t.size() > 16) return false;
  for (const char c : t)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != ':' && c != '-') return false;
  return std::isdigit(static_cast<unsigned char>(t.front())) && std::isdigit(static_cast<unsigned char>(t.back()));
}

bool slurm_name(const std::string& s) {
  for (const char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return !s.empty();
}

}  // namespace

std::string slurm_array_script(const SlurmSubmission& s) {
  std::ostringstream out;
  const std::string name = fs::path(s.script).stem().string();
  out << "#!/bin/bash\n"
      << "#SBATCH --job-name=whatif-" << name << "\n"
      << "#SBATCH --array=0-" << s.array - 1 << "\n"
      << "#SBATCH --ntasks=1\n"
      << "#SBATCH --cpus-per-task=" << s.cpus_per_task << "\n"
      << "#SBATCH --output=" << (fs::path(s.run_dir) / "slurm-%A_%a.out").string() << "\n";
  if (!s.partition.empty()) out << "#SBATCH --partition=" << s.partition << "\n";
  if (!s.time.empty()) out << "#SBATCH --time=" << s.time << "\n";
  if (s.gpus_per_task > 0) out << "#SBATCH --gpus-per-task=" << s.gpus_per_task << "\n";
  out << "# Task i runs shard i of " << s.array << ": the arms with index % " << s.array
      << " == i. Complete arms are skipped, interrupted ones resume from their checkpoints.\n"
      << "# When every task is done: whatif report " << quoted(s.run_dir) << "\n"
      << "set -euo pipefail\n"
      << "export WHATIF_THREADS=${SLURM_CPUS_PER_TASK:-1}\n"
      << "exec " << quoted(s.whatif) << " run " << quoted(s.script) << " --out " << quoted(s.run_dir)
      << " --shard \"${SLURM_ARRAY_TASK_ID}/" << s.array << "\"";
  for (const auto& o : s.run_options) out << " " << quoted(o);
  out << (s.gpus_per_task > 0 ? " --device cuda" : "") << "\n";
  return out.str();
}

int command_submit(const std::vector<std::string>& args) {
  po::options_description options("submit options");
  options.add_options()("script", po::value<std::string>()->required(), "experiment script (.lua)")(
      "slurm", "submit to Slurm with sbatch (the one scheduler so far; required)")(
      "array", po::value<int>()->default_value(1), "number of array tasks; task i runs --shard i/N")(
      "partition", po::value<std::string>(), "Slurm partition")(
      "time", po::value<std::string>(), "time limit per task (Slurm format, e.g. 2:00:00)")(
      "gpus-per-task", po::value<int>()->default_value(0), "GPUs per task (runs with --device cuda)")(
      "cpus-per-task", po::value<int>()->default_value(1), "cores per task (its whatif threads)")(
      "out", po::value<std::string>(), "run directory, shared by the tasks (default runs/<script name>)")(
      "set", po::value<std::vector<std::string>>()->composing(), "passed to whatif run: --set key=value")(
      "preset", po::value<std::string>(), "passed to whatif run: --preset P")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "passed to whatif run")(
      "wait", "wait until every task has finished (sbatch --wait); fail if one failed")(
      "dry-run", "print the sbatch script, submit nothing");
  po::positional_options_description positional;
  positional.add("script", 1);
  po::variables_map vm;
  if (!parse_command(args,
                     "usage: whatif submit SCRIPT --slurm [--array N] [--partition P] [--time T] "
                     "[--gpus-per-task G] [--cpus-per-task C] [--out DIR] [--set k=v]... [--preset P] "
                     "[--wait] [--dry-run]",
                     options, positional, vm, "whatif submit --help"))
    return 0;
  if (!vm.count("slurm")) throw UsageError("submit needs a scheduler: --slurm (see whatif submit --help)");
  SlurmSubmission s;
  const std::string script = vm["script"].as<std::string>();
  if (!fs::is_regular_file(script)) throw Error(script + ": no such script");
  s.script = fs::absolute(script).lexically_normal().string();
  s.run_dir = fs::absolute(vm.count("out") ? vm["out"].as<std::string>()
                                           : (fs::path("runs") / fs::path(script).stem()).string())
                  .lexically_normal()
                  .string();
  s.whatif = self_executable();
  s.array = vm["array"].as<int>();
  if (s.array < 1 || s.array > 10000) throw UsageError("--array " + std::to_string(s.array) + ": expected 1 to 10000 tasks");
  s.gpus_per_task = vm["gpus-per-task"].as<int>();
  s.cpus_per_task = vm["cpus-per-task"].as<int>();
  if (s.gpus_per_task < 0 || s.cpus_per_task < 1)
    throw UsageError("--gpus-per-task must be >= 0 and --cpus-per-task >= 1");
  if (vm.count("partition")) {
    s.partition = vm["partition"].as<std::string>();
    if (!slurm_name(s.partition)) throw UsageError("--partition " + s.partition + ": letters, digits, '-', '_', '.' only");
  }
  if (vm.count("time")) {
    s.time = vm["time"].as<std::string>();
    if (!slurm_time(s.time)) throw UsageError("--time " + s.time + ": expected Slurm's format, e.g. 90 or 1:30:00 or 2-00:00:00");
  }
  if (vm.count("set"))
    for (const auto& kv : vm["set"].as<std::vector<std::string>>()) s.run_options.insert(s.run_options.end(), {"--set", kv});
  if (vm.count("preset")) s.run_options.insert(s.run_options.end(), {"--preset", vm["preset"].as<std::string>()});
  if (vm.count("plugin-path"))
    for (const auto& p : vm["plugin-path"].as<std::vector<std::string>>())
      s.run_options.insert(s.run_options.end(), {"--plugin-path", fs::absolute(p).string()});
  const std::string text = slurm_array_script(s);
  if (vm.count("dry-run")) {
    std::cout << text;
    return 0;
  }
  fs::create_directories(s.run_dir);
  const fs::path file = fs::path(s.run_dir) / "whatif-submit.sbatch";
  {
    std::ofstream out(file);
    out << text;
    if (!out) throw Error(file.string() + ": cannot write the sbatch script");
  }
  const bool wait = vm.count("wait") > 0;
  const std::string command = "sbatch --parsable" + std::string(wait ? " --wait" : "") + " " + quoted(file.string());
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw Error("cannot run sbatch: " + std::string(std::strerror(errno)));
  std::string reply;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe)) reply += buffer;
  const int status = ::pclose(pipe);
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == ' ')) reply.pop_back();
  const std::string job = reply.substr(0, reply.find(';'));
  if (status == -1 || !WIFEXITED(status) || (job.empty() && WEXITSTATUS(status) == 127))
    throw Error("sbatch not found or not runnable (is Slurm installed and on PATH?)");
  if (job.empty())
    throw Error("sbatch refused " + file.string() + " (status " + std::to_string(WEXITSTATUS(status)) + ")");
  if (wait && WEXITSTATUS(status) != 0)
    throw Error("job " + job + ": a task failed (see " + (fs::path(s.run_dir) / ("slurm-" + job + "_*.out")).string() + ")");
  std::cout << "submitted job " << job << " (" << s.array << " task" << (s.array > 1 ? "s" : "") << ", " << file.string()
            << ")\n"
            << (wait ? "all tasks finished; " : "when the tasks finish: ") << "whatif report " << s.run_dir << "\n";
  return 0;
}

}  // namespace whatif
