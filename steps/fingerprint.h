// Fingerprints for verified undo (SPEC §4): what a resource looks like, as JSON that compares
// equal when (and only when) the resource is the same.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "hosts/host.h"

namespace cutover::steps {

/// {"sha256": HEX, "mode": "0644", "owner": "UID:GID"} for a regular file, {"symlink": TARGET}
/// for a link, {"dir": true, "mode": ..., "owner": ...} for a folder, "absent" when nothing is
/// there ("owner" only when the host reports it).
nlohmann::json file_fingerprint(hosts::Host& host, const std::string& path);

/// Key under which a file's fingerprint is stored: "file:" + host + ":" + path.
std::string file_resource(const hosts::Host& host, const std::string& path);

/// "0644"-style octal text.
std::string mode_string(uint32_t mode);

}  // namespace cutover::steps
