// The text of the `cutover init` templates. Placeholders {{key}} are replaced by the answers,
// written as YAML double-quoted strings (so any answer is safe), except {{plan_name}}, which
// `init` checks against the plan-name pattern and writes bare.
#include "cli/init_templates.h"

namespace cutover::cli {

namespace {

const char* kServerMove = R"YAML(# yaml-language-server: $schema=https://cutover.dev/schemas/plan.schema.json
# Server move (written by `cutover init --template server-move`): copy the app's PostgreSQL
# database to its new server, point the app's connection registry at it, restart the app and
# health-check it. Any failure puts everything back, newest first.
#   cutover validate plan.yaml   # every problem at once, nothing runs
#   cutover plan plan.yaml       # what would change, with diffs
#   cutover apply plan.yaml      # run it; exit 3 = failed and rolled back
version: 1
name: {{plan_name}}
description: Move the app's database to the new server and repoint the app

vars:
  app_dir: {{app_dir}}
  src_dsn: {{src_dsn}}               # the database today
  dst_dsn: {{dst_dsn}}               # where it moves to (created by the restore)
  health_url: {{health_url}}
  service: {{service}}                # the systemd unit of the app

secrets:
  # Never written in the plan, never printed: export DB_PASSWORD=… before running.
  db_password: { env: DB_PASSWORD }

defaults: { timeout: 30m }

steps:
  # Preflight: read-only checks, nothing is changed if they fail.
  - id: pg-dump-installed
    type: check.command
    with: { command: pg_dump, min_version: "13" }

  - id: source-up
    type: check.pg
    with: { dsn: "${vars.src_dsn}", password: "${secrets.db_password}" }

  - id: disk
    type: check.disk
    with: { path: ".", min_free: 1GiB }

  # The dump is kept in the artifact store: it is also what a later rollback restores from.
  - id: backup-db
    type: pg.dump
    with: { dsn: "${vars.src_dsn}", password: "${secrets.db_password}", format: custom }

  - id: stop-app
    type: service.stop
    with: { manager: systemd, name: "${vars.service}" }

  # Undo: the target database is put back as it was (or dropped if it did not exist).
  - id: restore-db
    type: pg.restore
    with:
      dsn: ${vars.dst_dsn}
      password: ${secrets.db_password}
      artifact: ${steps.backup-db.outputs.artifact}
      create_database: true

  # Only the keys named here change; everything else in the file stays as it was.
  - id: point-clients
    type: config.set
    with:
      path: ${vars.app_dir}/config/connection_registry.json
      set:
        primary_backend_url: ${vars.dst_dsn}
        fallback_url: ${vars.src_dsn}

  - id: start-app
    type: service.start
    with: { manager: systemd, name: "${vars.service}" }

  - id: health
    type: http.check
    with:
      url: ${vars.health_url}
      expect: { status: 200 }
      attempts: 10
      interval: 3s
)YAML";

const char* kDomainRename = R"YAML(# yaml-language-server: $schema=https://cutover.dev/schemas/plan.schema.json
# Domain rename (written by `cutover init --template domain-rename`): change the site's host
# name in its config files and nginx, reload nginx and check the site answers on the new name.
# Every edited file is put back byte for byte when a later step fails.
version: 1
name: {{plan_name}}
description: Rename the site to its new domain

vars:
  site_dir: {{site_dir}}
  old_domain: {{old_domain}}
  new_domain: {{new_domain}}
  nginx_conf: {{nginx_conf}}

steps:
  - id: site-config-exists
    type: check.file
    with: { path: "${vars.site_dir}/site_config.json", exists: true }

  # JSON key edited in place; other keys and their order stay as they were.
  - id: site-host-name
    type: config.set
    with:
      path: ${vars.site_dir}/site_config.json
      set: { host_name: "${vars.new_domain}" }

  - id: sites-list
    type: file.replace
    with:
      paths: ["${vars.site_dir}/sites.txt"]
      find: ${vars.old_domain}
      replace: ${vars.new_domain}

  - id: nginx-server-name
    type: file.replace
    with:
      paths: ["${vars.nginx_conf}"]
      find: server_name ${vars.old_domain}
      replace: server_name ${vars.new_domain}
      expect_min: 1

  # Undo puts nginx back in the state it was in (running or not).
  - id: reload-nginx
    type: service.restart
    with: { manager: systemd, name: nginx }

  - id: health
    type: http.check
    with:
      url: http://${vars.new_domain}/
      expect: { status: 200 }
      attempts: 5
      interval: 2s
)YAML";

const char* kFullSync = R"YAML(# yaml-language-server: $schema=https://cutover.dev/schemas/plan.schema.json
# Full sync between two servers (written by `cutover init --template full-sync`): dump the
# source database, merge it into the target (upsert on primary keys, safe to run again), then
# prove the row counts match. Ctrl-C rolls the target back.
version: 1
name: {{plan_name}}
description: Push all data from the source database into the target

vars:
  src_dsn: {{src_dsn}}
  dst_dsn: {{dst_dsn}}
  count_sql: {{count_sql}}

secrets:
  src_password: { env: SRC_DB_PASSWORD }
  dst_password: { env: DST_DB_PASSWORD }

steps:
  - id: source-up
    type: check.pg
    with: { dsn: "${vars.src_dsn}", password: "${secrets.src_password}" }

  - id: target-up
    type: check.pg
    with: { dsn: "${vars.dst_dsn}", password: "${secrets.dst_password}" }

  - id: dump-source
    type: pg.dump
    with: { dsn: "${vars.src_dsn}", password: "${secrets.src_password}", format: custom }

  # mode merge: rows are upserted on each table's primary key; a re-run never duplicates.
  - id: merge-into-target
    type: pg.restore
    with:
      dsn: ${vars.dst_dsn}
      password: ${secrets.dst_password}
      artifact: ${steps.dump-source.outputs.artifact}
      mode: merge

  - id: same-counts
    type: pg.query
    with:
      dsn: ${vars.dst_dsn}
      password: ${secrets.dst_password}
      sql: ${vars.count_sql}
      compare_with: { dsn: "${vars.src_dsn}", password: "${secrets.src_password}", sql: "${vars.count_sql}" }
)YAML";

const char* kRelease = R"YAML(# yaml-language-server: $schema=https://cutover.dev/schemas/plan.schema.json
# Release from git (written by `cutover init --template release`): check out a tag into a new
# release folder on the server, switch the `current` symlink atomically, restart the app and
# health-check it. `cutover rollback --to v1.4.0` goes back to an earlier release.
version: 1
name: {{plan_name}}
description: Release the app from a git tag

vars:
  repo: {{repo}}
  ref: {{ref}}                        # override per release: --var ref=v1.5.0
  app_dir: {{app_dir}}
  service: {{service}}
  health_url: {{health_url}}

hosts:
  app:
    address: {{host}}
    user: {{user}}
    identity_file: ~/.ssh/id_ed25519  # ed25519 or ECDSA (RSA is refused: see docs/hosts.md)
    host_key: strict                  # the host must be in ~/.ssh/known_hosts

steps:
  - id: disk
    type: check.disk
    on: app
    with: { path: "${vars.app_dir}", min_free: 500MiB }

  # Undo switches `current` back and removes the new release folder.
  - id: checkout
    type: git.checkout
    on: app
    with:
      repo: ${vars.repo}
      ref: ${vars.ref}
      releases_dir: ${vars.app_dir}/releases
      current: ${vars.app_dir}/current

  - id: restart-app
    type: service.restart
    on: app
    with: { manager: systemd, name: "${vars.service}" }

  - id: health
    type: http.check
    with:
      url: ${vars.health_url}
      expect: { status: 200 }
      attempts: 10
      interval: 3s
)YAML";

}  // namespace

const std::vector<InitTemplate>& init_templates() {
  static const std::vector<InitTemplate> kTemplates = {
      {"server-move",
       "move an app's PostgreSQL database to a new server and repoint the app",
       {{"plan_name", "Plan name", "server-move"},
        {"app_dir", "App folder", "/opt/app"},
        {"src_dsn", "Source database DSN", "postgresql://app@10.0.0.1:5432/app"},
        {"dst_dsn", "Target database DSN", "postgresql://app@10.0.0.2:5432/app"},
        {"health_url", "Health check URL", "http://127.0.0.1:8080/health"},
        {"service", "systemd unit of the app", "app.service"}},
       kServerMove},
      {"domain-rename",
       "rename a site's domain across its config files and nginx",
       {{"plan_name", "Plan name", "domain-rename"},
        {"site_dir", "Site folder", "/srv/site"},
        {"old_domain", "Old domain", "old.example.test"},
        {"new_domain", "New domain", "new.example.test"},
        {"nginx_conf", "nginx config file", "/etc/nginx/sites-available/site.conf"}},
       kDomainRename},
      {"full-sync",
       "merge all data of one PostgreSQL database into another, then compare counts",
       {{"plan_name", "Plan name", "full-sync"},
        {"src_dsn", "Source database DSN", "postgresql://app@10.0.0.1:5432/app"},
        {"dst_dsn", "Target database DSN", "postgresql://app@10.0.0.2:5432/app"},
        {"count_sql", "SQL whose result must match on both sides",
         "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"}},
       kFullSync},
      {"release",
       "release an app from a git tag on a server over SSH, with a symlink switch",
       {{"plan_name", "Plan name", "release"},
        {"host", "Server address", "10.0.0.2"},
        {"user", "SSH user", "deploy"},
        {"repo", "Git repository", "https://git.example.test/app.git"},
        {"ref", "Tag or branch to release", "v1.0.0"},
        {"app_dir", "App folder on the server", "/srv/app"},
        {"service", "systemd unit of the app", "app.service"},
        {"health_url", "Health check URL", "https://app.example.test/health"}},
       kRelease},
  };
  return kTemplates;
}

const InitTemplate* find_init_template(const std::string& name) {
  for (const auto& t : init_templates())
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace cutover::cli
