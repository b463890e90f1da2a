#include "tests/support/sshd.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_server.h"
#include "util/fs.h"
#include "util/process.h"
#include "util/strings.h"

extern char** environ;

namespace cutover::test {
namespace {

const char kSshd[] = "/usr/sbin/sshd";

std::string run_ok(const std::vector<std::string>& argv) {
  util::ProcessSpec spec;
  spec.argv = argv;
  spec.honour_interrupt = false;
  util::ProcessResult r = util::run_process(spec);
  if (!r.ok())
    throw std::runtime_error(util::join(argv, " ") + ": " + r.describe() + ": " + r.err);
  return r.out;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Children of `pid`, from /proc/*/stat (field 4 is the parent pid).
std::vector<int> children_of(int pid) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    int child = std::atoi(e->d_name);
    if (child <= 0) continue;
    std::string stat = read_text("/proc/" + std::string(e->d_name) + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(child);
  }
  ::closedir(d);
  return out;
}

}  // namespace

bool Sshd::available() {
  return ::access(kSshd, X_OK) == 0 && ::access("/usr/bin/ssh-keygen", X_OK) == 0;
}

std::string Sshd::user() const {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "root";
}

Sshd::Sshd(Config config) : config_(std::move(config)) {
  dir_ = util::make_temp_dir("cutover-sshd-");
  for (const auto& type : config_.host_key_types)
    run_ok({"ssh-keygen", "-q", "-t", type, "-N", "", "-C", "", "-f", dir_ + "/host_" + type});
  ::close(::open((dir_ + "/authorized_keys").c_str(), O_CREAT | O_WRONLY, 0644));
  client_key_ = make_client_key("client_ed25519", "ed25519");
  if (::geteuid() == 0) ::mkdir("/run/sshd", 0755);
  port_ = cutover::testing::free_port();
  std::ofstream cfg(dir_ + "/sshd_config");
  cfg << "Port " << port_ << "\nListenAddress 127.0.0.1\n";
  for (const auto& type : config_.host_key_types) cfg << "HostKey " << dir_ << "/host_" << type << "\n";
  cfg << "PidFile " << dir_ << "/sshd.pid\n"
      << "AuthorizedKeysFile " << dir_ << "/authorized_keys\n"
      << "StrictModes no\nUsePAM no\nPermitRootLogin yes\n"
      << "PasswordAuthentication " << (config_.password_auth ? "yes" : "no") << "\n"
      << "KbdInteractiveAuthentication no\n"
      << "Subsystem sftp internal-sftp\n"
      << "MaxStartups 100\nMaxSessions 100\nLogLevel VERBOSE\n";
  for (const auto& line : config_.extra_config) cfg << line << "\n";
  cfg.close();
  start();
}

Sshd::~Sshd() {
  stop();
  util::remove_all(dir_);
}

void Sshd::start() {
  std::vector<std::string> args = {kSshd, "-D", "-f", dir_ + "/sshd_config", "-E", dir_ + "/sshd.log"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, kSshd, nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("cannot start sshd");
  pid_ = pid;
  for (int i = 0; i < 200; ++i) {
    if (accepts(port_)) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string why = log();
  stop();
  throw std::runtime_error("sshd did not start: " + why);
}

void Sshd::stop() {
  if (pid_ <= 0) return;
  drop_connections();
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int Sshd::drop_connections() {
  if (pid_ <= 0) return 0;
  std::vector<int> kids = children_of(pid_);
  for (int k : kids) ::kill(k, SIGKILL);
  return static_cast<int>(kids.size());
}

std::string Sshd::log() const { return read_text(dir_ + "/sshd.log"); }

std::string Sshd::make_client_key(const std::string& name, const std::string& type,
                                  const std::string& passphrase, bool authorize) {
  std::string path = dir_ + "/" + name;
  std::vector<std::string> args = {"ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C",
                                   "cutover-test", "-f", path};
  if (type == "rsa") args.insert(args.begin() + 4, {"-b", "2048"});
  run_ok(args);
  if (authorize) {
    std::ofstream(dir_ + "/authorized_keys", std::ios::app) << read_text(path + ".pub");
  }
  return path;
}

std::string Sshd::host_public_key(const std::string& type) const {
  return util::trim(read_text(dir_ + "/host_" + type + ".pub"));
}

std::string Sshd::host_fingerprint(const std::string& type) const {
  std::string out = run_ok({"ssh-keygen", "-l", "-E", "sha256", "-f", dir_ + "/host_" + type + ".pub"});
  return util::split(out, ' ').at(1);
}

std::string Sshd::known_hosts_line(const std::string& public_key) const {
  return "[127.0.0.1]:" + std::to_string(port_) + " " + public_key;
}

std::string Sshd::write_known_hosts(const std::string& path, const std::vector<std::string>& keys,
                                    bool hashed) const {
  std::ofstream out(path, std::ios::trunc);
  out << "# test known_hosts\n";
  for (const auto& k : keys) out << known_hosts_line(k) << "\n";
  out.close();
  if (hashed) {
    run_ok({"ssh-keygen", "-q", "-H", "-f", path});
    util::remove_all(path + ".old");
  }
  return path;
}

hosts::SshOptions Sshd::options() const {
  hosts::SshOptions o;
  o.name = "remote";
  o.address = "127.0.0.1";
  o.port = port_;
  o.user = user();
  o.identity_file = client_key_;
  o.host_key = "strict";
  o.known_hosts = write_known_hosts(dir_ + "/known_hosts", {host_public_key("ed25519")});
  return o;
}

std::string Sshd::password_user(const std::string& password) {
  const char* name = "cutover-sshtest";
  if (::geteuid() != 0 || ::access("/usr/sbin/useradd", X_OK) != 0) return "";
  if (!::getpwnam(name)) {
    util::ProcessSpec spec;
    spec.argv = {"/usr/sbin/useradd", "-M", "-s", "/bin/sh", name};
    if (!util::run_process(spec).ok()) return "";
  }
  util::ProcessSpec spec;
  spec.argv = {"/usr/sbin/chpasswd"};
  spec.stdin_data = std::string(name) + ":" + password + "\n";
  if (!util::run_process(spec).ok()) return "";
  return name;
}

}  // namespace cutover::test
