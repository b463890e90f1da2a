#include "steps/fingerprint.h"

#include <cstdio>

namespace cutover::steps {

std::string mode_string(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string file_resource(const hosts::Host& host, const std::string& path) {
  return "file:" + host.name() + ":" + path;
}

nlohmann::json file_fingerprint(hosts::Host& host, const std::string& path) {
  hosts::FileInfo fi = host.stat(path);
  if (!fi.exists) return "absent";
  if (fi.is_symlink) return {{"symlink", fi.link_target}};
  nlohmann::json fp = fi.is_dir
                          ? nlohmann::json{{"dir", true}, {"mode", mode_string(fi.mode)}}
                          : nlohmann::json{{"sha256", host.sha256(path)}, {"mode", mode_string(fi.mode)}};
  if (fi.has_owner) fp["owner"] = std::to_string(fi.uid) + ":" + std::to_string(fi.gid);
  return fp;
}

}  // namespace cutover::steps
