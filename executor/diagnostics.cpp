// Locating diagnostics: JSON pointers -> file, line, column and a readable path.
#include <cctype>

#include "executor/load_internal.h"
#include "util/strings.h"

namespace cutover::executor::detail {

namespace {

std::vector<std::string> pointer_tokens(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  for (auto& raw : util::split(pointer.substr(1), '/'))
    out.push_back(util::replace_all(util::replace_all(raw, "~1", "/"), "~0", "~"));
  return out;
}

bool plain_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

std::string parent_of(const std::string& pointer) {
  size_t slash = pointer.rfind('/');
  return slash == std::string::npos ? "" : pointer.substr(0, slash);
}

bool under(const std::string& p, const std::string& prefix) {
  return p == prefix || util::starts_with(p, prefix + "/");
}

}  // namespace

std::string pointer_token(const std::string& key) {
  if (key.find_first_of("~/") == std::string::npos) return key;  // nearly every key
  return util::replace_all(util::replace_all(key, "~", "~0"), "/", "~1");
}

std::string pointer_to_path(const json& doc, const std::string& pointer) {
  std::string out;
  const json* node = &doc;
  for (const auto& tok : pointer_tokens(pointer)) {
    bool index = node ? node->is_array()
                      : (!tok.empty() && tok.find_first_not_of("0123456789") == std::string::npos);
    if (index) {
      out += "[" + tok + "]";
    } else if (plain_key(tok)) {
      out += (out.empty() ? "" : ".") + tok;
    } else {
      out += "[" + json(tok).dump() + "]";
    }
    if (node && node->is_array() && tok.find_first_not_of("0123456789") == std::string::npos &&
        std::stoul(tok) < node->size()) {
      node = &(*node)[std::stoul(tok)];
    } else if (node && node->is_object() && node->contains(tok)) {
      node = &(*node)[tok];
    } else {
      node = nullptr;
    }
  }
  return out;
}

int SourceMap::file_index(const std::string& file) {
  for (size_t i = 0; i < files.size(); ++i)
    if (files[i] == file) return static_cast<int>(i);
  files.push_back(file);
  return static_cast<int>(files.size() - 1);
}

void SourceMap::graft(const SourceMap& other, const std::string& from, const std::string& to) {
  auto copy = [&](const std::map<std::string, Origin>& src, std::map<std::string, Origin>& dst) {
    // Collected first: `other` may be this map.
    std::vector<std::pair<std::string, Origin>> found;
    for (auto it = src.lower_bound(from); it != src.end() && util::starts_with(it->first, from);
         ++it) {
      if (!under(it->first, from)) continue;
      Origin o = it->second;
      o.file = file_index(other.files.at(static_cast<size_t>(o.file)));
      found.emplace_back(to + it->first.substr(from.size()), o);
    }
    for (auto& [ptr, o] : found) dst[ptr] = o;
  };
  copy(other.values, values);
  copy(other.keys, keys);
}

void SourceMap::erase(const std::string& pointer) {
  for (auto* m : {&values, &keys}) {
    for (auto it = m->lower_bound(pointer); it != m->end() && util::starts_with(it->first, pointer);) {
      if (under(it->first, pointer))
        it = m->erase(it);
      else
        ++it;
    }
  }
}

SourceLoc DiagSink::loc_of(const std::string& pointer) const {
  for (std::string p = pointer;; p = parent_of(p)) {
    auto it = map_.values.find(p);
    if (it != map_.values.end()) return it->second.loc;
    if (p.empty()) return {};
  }
}

void DiagSink::at(const std::string& pointer, const std::string& message) {
  for (std::string p = pointer;; p = parent_of(p)) {
    auto it = map_.values.find(p);
    if (it != map_.values.end()) return add(pointer, &it->second, message);
    if (p.empty()) return add(pointer, nullptr, message);
  }
}

void DiagSink::at_key(const std::string& pointer, const std::string& message) {
  auto it = map_.keys.find(pointer);
  if (it != map_.keys.end()) return add(pointer, &it->second, message);
  at(pointer, message);
}

void DiagSink::literal_secret(const std::string& pointer, const std::string& message) {
  at(pointer, message);
  secrets_.push_back(out_.back());
}

std::string mask_scalar(const std::string& line, int col) {
  size_t i = static_cast<size_t>(col - 1);
  if (col <= 0 || i >= line.size()) return line;
  size_t end = i;
  char q = line[i];
  if (q == '"' || q == '\'') {
    end = line.find(q, i + 1);
    end = end == std::string::npos ? line.size() : end + 1;
  } else {
    // A plain scalar ends at a flow indicator, a comment or the end of the line.
    while (end < line.size() && std::string(",]}").find(line[end]) == std::string::npos &&
           !(line[end] == '#' && end > i && line[end - 1] == ' '))
      ++end;
    while (end > i && line[end - 1] == ' ') --end;
  }
  // As many '*' as characters hidden: the carets of other problems on the line stay aligned.
  return line.substr(0, i) + std::string(end - i, '*') + line.substr(end);
}

void DiagSink::file_level(const std::string& message) {
  Diagnostic d;
  d.file = file_;
  d.message = message;
  out_.push_back(std::move(d));
}

void DiagSink::add(const std::string& pointer, const Origin* origin, const std::string& message) {
  Diagnostic d;
  d.file = origin ? map_.files.at(static_cast<size_t>(origin->file)) : file_;
  d.loc = origin ? origin->loc : SourceLoc{};
  d.path = pointer_to_path(doc_, pointer);
  d.message = message;
  out_.push_back(std::move(d));
}

}  // namespace cutover::executor::detail
