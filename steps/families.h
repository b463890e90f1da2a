// Each step family file contributes its entries to the registry through one function.
#pragma once

#include <vector>

#include "steps/registry.h"

namespace cutover::steps {

std::vector<StepType> file_step_types();     // file.write, file.replace       (steps/file_steps.cpp)
std::vector<StepType> config_step_types();   // config.set                     (steps/config_steps.cpp)
std::vector<StepType> shell_step_types();    // shell                          (steps/shell_steps.cpp)
std::vector<StepType> check_step_types();    // check.file/disk/command/tcp, wait, confirm (steps/check_steps.cpp)
std::vector<StepType> pg_step_types();       // check.pg, pg.query, pg.sql, pg.dump, pg.restore (steps/pg_steps.cpp)
std::vector<StepType> transfer_step_types(); // transfer                       (steps/transfer_steps.cpp)
std::vector<StepType> service_step_types();  // service.stop/start/restart     (steps/service_steps.cpp)
std::vector<StepType> http_step_types();     // http.check, http.request       (steps/http_steps.cpp)
std::vector<StepType> git_step_types();      // git.checkout                   (steps/git_steps.cpp)
std::vector<StepType> snapshot_step_types(); // files.snapshot, files.restore  (steps/snapshot_steps.cpp)

}  // namespace cutover::steps
