#include "steps/file_state.h"

#include "checkpoints/artifact_store.h"
#include "steps/fingerprint.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/redact.h"

namespace cutover::steps {
namespace {

// Larger prior contents go to the artifact store instead of inline in the journal record.
constexpr size_t kInlineLimit = 64u << 10;

std::string kind_of(const hosts::FileInfo& fi) {
  if (fi.is_dir) return "a folder";
  if (fi.is_symlink) return "a symlink";
  return "not a regular file";
}

}  // namespace

std::string string_param(const json& with, const std::string& type, const std::string& key,
                         bool required, const std::string& def) {
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) {
    if (required) throw Error(type + ": with." + key + " is required");
    return def;
  }
  if (!it->is_string()) throw Error(type + ": with." + key + " must be a string");
  return it->get<std::string>();
}

bool bool_param(const json& with, const std::string& type, const std::string& key, bool def) {
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) return def;
  if (!it->is_boolean()) throw Error(type + ": with." + key + " must be true or false");
  return it->get<bool>();
}

std::vector<std::string> string_list_param(const json& with, const std::string& type,
                                           const std::string& key) {
  std::vector<std::string> out;
  auto it = with.find(key);
  if (it == with.end() || it->is_null()) return out;
  if (it->is_string()) return {it->get<std::string>()};
  if (!it->is_array()) throw Error(type + ": with." + key + " must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) throw Error(type + ": with." + key + " must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

uint32_t parse_mode(const json& value, const std::string& what) {
  std::string digits;
  if (value.is_string())
    digits = value.get<std::string>();
  else if (value.is_number_unsigned() || value.is_number_integer())
    digits = std::to_string(value.get<long long>());
  else
    throw Error(what + ": mode must be octal text such as \"0644\"");
  if (digits.rfind("0o", 0) == 0) digits = digits.substr(2);
  if (digits.empty() || digits.size() > 5) throw Error(what + ": bad mode '" + digits + "'");
  uint32_t mode = 0;
  for (char c : digits) {
    if (c < '0' || c > '7')
      throw Error(what + ": bad mode '" + digits + "' (octal digits 0-7 expected, like \"0644\")");
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) throw Error(what + ": bad mode '" + digits + "'");
  return mode;
}

std::string target_path(Context& ctx, const std::string& path) {
  if (path.empty()) throw Error("empty path");
  if (path[0] == '/') return path;
  if (!ctx.host.is_local())
    throw Error("path '" + path + "' on host " + ctx.host.name() + " must be absolute");
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  return util::join_path(ctx.run.plan_dir.empty() ? "." : ctx.run.plan_dir, rel);
}

std::string follow_symlinks(hosts::Host& host, const std::string& path, hosts::FileInfo* info) {
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    hosts::FileInfo fi = host.stat(p);
    if (!fi.is_symlink) {
      if (info) *info = std::move(fi);
      return p;
    }
    const std::string& t = fi.link_target;
    p = (!t.empty() && t[0] == '/') ? t : util::dirname(p) + "/" + t;
  }
  throw Error("too many levels of symlinks at " + path);
}

bool parent_dir_exists(hosts::Host& host, const std::string& path) {
  std::string dir = util::dirname(path);
  hosts::FileInfo fi = host.stat(dir);
  if (fi.is_symlink) fi = host.stat(follow_symlinks(host, dir));
  return fi.is_dir;
}

void require_parent_dir(hosts::Host& host, const std::string& path, const std::string& type) {
  std::string dir = util::dirname(path);
  hosts::FileInfo fi = host.stat(dir);
  if (fi.is_symlink) fi = host.stat(follow_symlinks(host, dir));
  if (!fi.exists)
    throw Error(
        type + ": folder " + dir + " does not exist (on " + host.name() + ")",
        "create it first (a shell step with mkdir -p), " + type + " does not create folders");
  if (!fi.is_dir) throw Error(type + ": " + dir + " is not a folder (on " + host.name() + ")");
}

CurrentFile read_current(hosts::Host& host, const std::string& path, const std::string& type,
                         const hosts::FileInfo* known) {
  CurrentFile cur;
  hosts::FileInfo fi = known ? *known : host.stat(path);
  if (!fi.exists) return cur;
  if (!fi.is_regular)
    throw Error(type + ": " + path + " is " + kind_of(fi) + " (on " + host.name() + ")");
  cur.exists = true;
  cur.mode = fi.mode;
  cur.owner = fi.owner();
  cur.bytes = host.read_file(path);
  return cur;
}

json capture_file(Context& ctx, hosts::Host& host, const std::string& path,
                  const std::string& type) {
  CurrentFile cur = read_current(host, path, type);
  if (!cur.exists) return {{"path", path}, {"state", "absent"}};
  json saved = {{"path", path},
                {"state", "file"},
                {"mode", mode_string(cur.mode)},
                {"sha256", util::sha256_hex(cur.bytes)},
                {"size", cur.bytes.size()}};
  if (cur.owner) {
    saved["uid"] = cur.owner->uid;
    saved["gid"] = cur.owner->gid;
  }
  // Content holding a registered secret never goes into the journal (SPEC §8), even
  // base64-encoded: it goes to the private artifact store like large content.
  bool has_secret = util::redact(cur.bytes) != cur.bytes;
  if (cur.bytes.size() <= kInlineLimit && !has_secret)
    saved["inline"] = util::base64_encode(cur.bytes);
  else
    saved["artifact"] = ctx.artifacts.put(cur.bytes, "file " + type);
  return saved;
}

std::string captured_bytes(Context& ctx, const json& saved) {
  if (saved.value("state", "") != "file") return "";
  std::string bytes = saved.contains("artifact")
                          ? ctx.artifacts.get(saved.at("artifact").get<std::string>())
                          : util::base64_decode(saved.value("inline", ""));
  if (util::sha256_hex(bytes) != saved.value("sha256", ""))
    throw Error("saved copy of " + saved.value("path", "?") + " is damaged (sha256 mismatch)");
  return bytes;
}

void restore_file(Context& ctx, hosts::Host& host, const json& saved, const std::string& type) {
  const std::string path = saved.at("path").get<std::string>();
  hosts::FileInfo now = host.stat(path);
  if (now.exists && !now.is_regular)
    throw Error(type + ": cannot restore " + path + " on " + host.name() + ": it is now " +
                    kind_of(now) + ", not the file cutover wrote",
                "move it out of the way by hand, then run the rollback again");
  if (saved.value("state", "") == "absent") {
    if (now.exists) host.remove(path);
    return;
  }
  uint32_t mode = parse_mode(saved.at("mode"), type);
  std::optional<hosts::Owner> owner;
  if (saved.contains("uid") && saved.contains("gid"))
    owner = hosts::Owner{saved["uid"].get<uint32_t>(), saved["gid"].get<uint32_t>()};
  if (now.exists && now.size == saved.value("size", uint64_t{0}) &&
      host.sha256(path) == saved.value("sha256", "")) {
    bool chowned = false;
    if (owner && now.owner() != owner) {
      host.chown(path, owner->uid, owner->gid);
      chowned = true;  // which clears setuid/setgid: set the mode even if it looked right
    }
    if (chowned || now.mode != mode) host.chmod(path, mode);
    return;
  }
  host.write_file(path, captured_bytes(ctx, saved), mode, owner);
}

json fingerprint_files(hosts::Host& host, const std::vector<std::string>& paths) {
  json out = json::object();
  for (const auto& p : paths) out[file_resource(host, p)] = file_fingerprint(host, p);
  return out;
}

}  // namespace cutover::steps
