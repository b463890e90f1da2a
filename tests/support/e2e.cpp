#include "tests/support/e2e.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "util/process.h"

namespace cutover::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "cutover-test-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  bool failed = Catch::getResultCapture().lastAssertionPassed() == false;
  if (std::getenv("CUTOVER_KEEP_TMP") || failed) {
    std::fprintf(stderr, "kept test folder %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

CliOptions at(const std::string& cwd, std::map<std::string, std::string> env) {
  CliOptions o;
  o.cwd = cwd;
  o.env = std::move(env);
  return o;
}

CliResult run_cutover(const std::vector<std::string>& args, const CliOptions& opts) {
  util::ProcessSpec spec;
  spec.argv = {CUTOVER_BIN};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = opts.cwd;
  spec.env = opts.env;
  spec.env["NO_COLOR"] = "1";
  spec.stdin_data = opts.stdin_data;
  spec.honour_interrupt = false;
  spec.deadline = util::Deadline::after(std::chrono::seconds(opts.timeout_s));
  util::ProcessResult r = util::run_process(spec);
  CliResult out;
  out.exit_code = r.exit_code;
  out.signal = r.signal;
  out.out = r.out;
  out.err = r.err;
  return out;
}

int spawn_cutover(const std::vector<std::string>& args, const CliOptions& opts, const std::string& out_file) {
  // Everything allocated before fork: the child may only make async-signal-safe calls,
  // since another thread of the test (an HTTP fixture, say) may hold the malloc lock.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env[std::string(*e, static_cast<size_t>(eq - *e))] = eq + 1;
  }
  for (const auto& [k, v] : opts.env) env[k] = v;
  env["NO_COLOR"] = "1";
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> all = {CUTOVER_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(127);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int wait_pid(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

void write_file(const std::string& path, const std::string& data, unsigned mode) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  chmod(path.c_str(), mode);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::map<std::string, FileState> snapshot_tree(const std::string& dir) {
  std::map<std::string, FileState> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string rel = fs::relative(e.path(), dir).string();
    out[rel] = FileState{read_file(e.path()), file_mode(e.path())};
  }
  return out;
}

std::vector<nlohmann::json> journal_records(const std::string& state_dir, const std::string& run_id) {
  std::vector<nlohmann::json> out;
  std::ifstream in(state_dir + "/runs/" + run_id + "/journal.jsonl");
  std::string line;
  while (std::getline(in, line))
    if (line.size() > 9) out.push_back(nlohmann::json::parse(line.substr(9)));
  return out;
}

std::string latest_run(const std::string& state_dir) {
  std::string best;
  for (const auto& e : fs::directory_iterator(state_dir + "/runs"))
    if (e.path().filename().string() > best) best = e.path().filename().string();
  return best;
}

std::string all_bytes_under(const std::string& dir) {
  std::string out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out += read_file(e.path()) + "\n";
  return out;
}

bool wait_until(const std::function<bool()>& pred, int timeout_ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace cutover::test
