#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include "checkpoints/state.h"
#include "util/error.h"
#include "util/fs.h"

namespace cutover::checkpoints {
namespace {

class LocalState final : public StateStore {
 public:
  // The root is made absolute: steps and the artifact store build paths from it after the
  // working directory may have changed (and a relative temp prefix would land in /tmp).
  explicit LocalState(const std::string& dir)
      : root_(std::filesystem::absolute(dir).lexically_normal().string()), artifacts_(root_ + "/artifacts") {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    bool fresh = !util::exists(root_);
    util::make_dirs(root_, 0700);
    if (fresh) ::chmod(root_.c_str(), 0700);
    util::make_dirs(root_ + "/runs", 0700);
  }

  const std::string& root() const override { return root_; }

  std::string create_run_dir(const std::string& run_id) override {
    std::string d = run_dir(run_id);
    if (::mkdir(d.c_str(), 0700) != 0) throw Error("cannot create run folder " + d + ": " + std::strerror(errno));
    util::fsync_dir(root_ + "/runs");
    return d;
  }

  std::string run_dir(const std::string& run_id) const override { return root_ + "/runs/" + run_id; }

  std::vector<std::string> run_ids() const override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/runs", ec))
      if (e.is_directory()) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  void append_release(const json& release) override {
    std::string path = root_ + "/releases.jsonl";
    bool existed = util::exists(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
    std::string line = release.dump() + "\n";
    ssize_t n = ::write(fd, line.data(), line.size());
    int rc = ::fdatasync(fd);
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size()) || rc != 0)
      throw Error("cannot append to " + path + ": " + std::strerror(errno));
    if (!existed) util::fsync_dir(root_);
  }

  std::vector<json> releases() const override {
    std::vector<json> out;
    std::string path = root_ + "/releases.jsonl";
    if (!util::exists(path)) return out;
    std::string data = util::read_file(path);
    size_t pos = 0;
    while (pos < data.size()) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos) break;  // torn tail: ignored
      json j = json::parse(data.substr(pos, nl - pos), nullptr, false);
      if (j.is_object()) out.push_back(std::move(j));
      pos = nl + 1;
    }
    return out;
  }

  ArtifactStore& artifacts() override { return artifacts_; }

 private:
  std::string root_;
  ArtifactStore artifacts_;
};

}  // namespace

std::unique_ptr<StateStore> open_local_state(const std::string& dir) {
  return std::make_unique<LocalState>(dir);
}

std::string new_run_id() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  static std::mt19937 rng{std::random_device{}()};
  char tail[16];
  std::snprintf(tail, sizeof tail, "%03dZ-%04x", static_cast<int>(ms), static_cast<unsigned>(rng() & 0xffff));
  return std::string(buf) + tail;
}

}  // namespace cutover::checkpoints
