#include "tests/support/tree_state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace cutover::test {
namespace {

void walk(const std::string& root, const std::string& rel, std::map<std::string, TreeEntry>& out) {
  std::string path = rel == "." ? root : root + "/" + rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  TreeEntry e;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  if (S_ISREG(st.st_mode)) {
    e.type = 'f';
    e.inode_links = st.st_nlink;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    e.bytes = ss.str();
  } else if (S_ISLNK(st.st_mode)) {
    e.type = 'l';
    e.mode = 0;  // a link's own mode means nothing on Linux
    std::vector<char> buf(4096);
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n > 0) e.link.assign(buf.data(), static_cast<size_t>(n));
  } else if (S_ISDIR(st.st_mode)) {
    e.type = 'd';
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = 'p';
  }
  out[rel] = e;
  if (e.type != 'd') return;
  DIR* d = ::opendir(path.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) walk(root, rel == "." ? n : rel + "/" + n, out);
}

std::string describe(const TreeEntry& e) {
  std::ostringstream s;
  s << e.type << " mode " << std::oct << e.mode << std::dec << " " << e.uid << ":" << e.gid;
  if (e.type == 'f') s << " " << e.bytes.size() << " bytes, " << e.inode_links << " links";
  if (e.type == 'l') s << " -> " << e.link;
  return s.str();
}

}  // namespace

std::map<std::string, TreeEntry> tree_state(const std::string& dir) {
  std::map<std::string, TreeEntry> out;
  walk(dir, ".", out);
  return out;
}

std::string tree_diff(const std::map<std::string, TreeEntry>& a,
                      const std::map<std::string, TreeEntry>& b) {
  std::string out;
  for (const auto& [p, e] : a) {
    auto it = b.find(p);
    if (it == b.end())
      out += "only before: " + p + " (" + describe(e) + ")\n";
    else if (it->second != e)
      out += "changed: " + p + ": " + describe(e) + " -> " + describe(it->second) + "\n";
  }
  for (const auto& [p, e] : b)
    if (!a.count(p)) out += "only after: " + p + " (" + describe(e) + ")\n";
  return out;
}

}  // namespace cutover::test
