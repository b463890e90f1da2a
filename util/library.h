// A shared library opened with dlopen on first use (libgit2, libcurl, libpq): commands that
// never need one do not pay for loading it and the libraries only it needs.
#pragma once

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include "util/error.h"

namespace cutover::util {

class SharedLibrary {
 public:
  /// Opens `soname` (RTLD_NOW | RTLD_LOCAL); throws Error "cannot load WHAT: ..." with `hint`.
  SharedLibrary(const char* soname, std::string what, std::string hint = {})
      : soname_(soname), what_(std::move(what)), hint_(std::move(hint)) {
    handle_ = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) throw Error("cannot load " + what_ + ": " + ::dlerror(), hint_);
  }

  /// Points `fn` at `symbol`; throws Error when the library has no such symbol.
  template <typename Fn>
  void bind(Fn& fn, const char* symbol) const {
    fn = reinterpret_cast<Fn>(::dlsym(handle_, symbol));
    if (!fn) throw Error("cannot load " + what_ + ": " + soname_ + " has no " + symbol, hint_);
  }

 private:
  std::string soname_, what_, hint_;
  void* handle_ = nullptr;  // never closed: the functions stay in use until exit
};

}  // namespace cutover::util
