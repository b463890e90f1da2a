#include "steps/plugin_step.h"

#include "steps/plugin_call.h"
#include "util/error.h"
#include "util/redact.h"

namespace cutover::steps {
namespace {

// `cutover plan` gives steps no deadline; a plugin still must not hang the dry run forever.
constexpr auto kNoDeadlineCap = std::chrono::minutes(10);
constexpr auto kSchemaTimeout = std::chrono::seconds(30);

class PluginStep final : public Step {
 public:
  PluginStep(const StepConfig& c, std::string path)
      : id_(c.id), type_(c.type), params_(c.params), path_(std::move(path)) {
    if (!c.on.empty() && c.on != "local")
      throw Error("plugin step type '" + type_ +
                  "' runs only on this machine: it does not accept 'on'");
  }

  Preview plan(Context& ctx) override {
    json a = call(ctx, "plan", nullptr);
    Preview p;
    p.changes = a.value("changes", true);
    p.summary = a.value("summary", "");
    p.detail = a.value("detail", "");
    if (a.contains("outputs")) p.outputs = a["outputs"];
    return p;
  }

  json checkpoint(Context& ctx) override {
    json a = call(ctx, "checkpoint", nullptr);
    fingerprint_ = fingerprint_of(a);
    have_fingerprint_ = true;
    return a["checkpoint"];
  }

  // The fingerprint comes with the checkpoint answer. Asked again (after an undo) the plugin's
  // `checkpoint` action, read-only by contract, is called for a fresh one.
  json fingerprint(Context& ctx) override {
    if (!have_fingerprint_) fingerprint_ = fingerprint_of(call(ctx, "checkpoint", nullptr));
    have_fingerprint_ = false;
    return fingerprint_;
  }

  json apply(Context& ctx, const json& checkpoint) override {
    json a = call(ctx, "apply", checkpoint);
    return a.contains("outputs") ? a["outputs"] : json::object();
  }

  void undo(Context& ctx, const json& checkpoint) override { call(ctx, "undo", checkpoint); }

 private:
  // Masked like the journal masks it, so that the fingerprint journaled at checkpoint time
  // and the one taken after undo compare equal.
  static json fingerprint_of(const json& answer) {
    if (!answer.contains("fingerprint") || answer["fingerprint"].is_null() ||
        answer["fingerprint"].empty())
      return nullptr;
    return util::redact_json(answer["fingerprint"]);
  }

  json call(Context& ctx, const std::string& action, const json& checkpoint) {
    PluginCall c;
    c.path = path_;
    c.type = type_;
    c.action = action;
    c.cwd = ctx.run.plan_dir;
    c.deadline = ctx.deadline;
    if (c.deadline.at == std::chrono::steady_clock::time_point::max())
      c.deadline = util::Deadline::after(kNoDeadlineCap);
    c.request = {{"protocol", kPluginProtocol},
                 {"action", action},
                 {"type", type_},
                 {"step", id_},
                 {"params", params_},
                 {"checkpoint", checkpoint},
                 {"run",
                  {{"id", ctx.run.run_id},
                   {"dir", ctx.run.run_dir},
                   {"plan_name", ctx.run.plan_name},
                   {"plan_dir", ctx.run.plan_dir},
                   {"state_dir", ctx.run.state_dir},
                   {"dry_run", action == "plan"},
                   {"auto_approve", ctx.run.auto_approve},
                   {"timeout_ms", ctx.deadline.at == std::chrono::steady_clock::time_point::max()
                                      ? json(nullptr)
                                      : json(ctx.deadline.remaining_ms())}}}};
    c.log = ctx.log;
    json a = call_plugin(c);
    if (ctx.log && a.contains("summary") && !a["summary"].get<std::string>().empty())
      ctx.log("plugin " + type_ + " " + action + ": " +
              util::redact(a["summary"].get<std::string>()));
    return a;
  }

  std::string id_, type_;
  json params_;
  std::string path_;
  json fingerprint_;
  bool have_fingerprint_ = false;
};

}  // namespace

std::unique_ptr<Step> make_plugin_step(const StepConfig& config, const std::string& path) {
  return std::make_unique<PluginStep>(config, path);
}

StepType plugin_step_type(const std::string& type, const std::string& path,
                          const std::string& plan_dir) {
  PluginCall c;
  c.path = path;
  c.type = type;
  c.action = "schema";
  c.cwd = plan_dir;
  c.deadline = util::Deadline::after(kSchemaTimeout);
  c.request = {{"protocol", kPluginProtocol}, {"action", "schema"}, {"type", type}};
  json a;
  try {
    a = call_plugin(c);
  } catch (const Error& e) {
    std::string what = e.what();
    // Name the executable in every load error, also when the plugin explained itself.
    if (what.find(path) == std::string::npos) what = "plugin " + path + ": " + what;
    throw Error(what, e.hint());
  }
  StepType t;
  t.name = type;
  t.summary = a.value("summary", "external plugin " + path);
  t.undo = a.value("undo", "the plugin's own undo, from the checkpoint it returned");
  t.outputs = "what the plugin's apply answers as outputs";
  t.params_schema = a["schema"].dump();
  t.kind = Kind::change;
  t.remote = false;
  t.resume = Resume::no;
  if (a.contains("secret_params"))
    t.secret_params = a["secret_params"].get<std::vector<std::string>>();
  return t;
}

}  // namespace cutover::steps
