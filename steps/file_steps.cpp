// Placeholder until the family is built: contributes no step types yet.
#include "steps/families.h"

namespace cutover::steps {

std::vector<StepType> file_step_types() { return {}; }

}  // namespace cutover::steps
