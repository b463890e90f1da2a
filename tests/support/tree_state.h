// What a folder tree looks like, entry by entry — type, mode, owner, group, bytes, symlink
// target — to compare a folder before a change with the same folder after a rollback. Built
// with lstat() directly (not through cutover's hosts), so a test checks cutover against the
// file system itself.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

namespace cutover::test {

struct TreeEntry {
  char type = '?';    // f d l p (as find %y)
  unsigned mode = 0;  // 07777 bits
  unsigned uid = 0, gid = 0;
  std::string bytes;                   // regular files
  std::string link;                    // symlinks
  unsigned long long inode_links = 0;  // hard link count of a regular file
  bool operator==(const TreeEntry& o) const {
    return type == o.type && mode == o.mode && uid == o.uid && gid == o.gid && bytes == o.bytes &&
           link == o.link && inode_links == o.inode_links;
  }
  bool operator!=(const TreeEntry& o) const { return !(*this == o); }
};

/// Every entry under `dir` by relative path; the folder itself is "." (absent folder: empty).
std::map<std::string, TreeEntry> tree_state(const std::string& dir);

/// The differences between two states, one line per path ("" when equal), for INFO().
std::string tree_diff(const std::map<std::string, TreeEntry>& a,
                      const std::map<std::string, TreeEntry>& b);

}  // namespace cutover::test
