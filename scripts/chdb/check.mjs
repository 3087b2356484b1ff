// Proves the schema on current ClickHouse (the engine bundled in the npm package chdb):
// applies schema/bootstrap.sql and every migration in order, inserts sample rows, runs
// every example query of schema/SCHEMA.md and the statements the service issues at run
// time, and exits non-zero if any of it fails. Run: npm --prefix scripts/chdb install && node scripts/chdb/check.mjs
import { readFileSync, readdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { Session, query } from "chdb";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const schemaDir = join(root, "schema");

// Same rule as schema.SplitStatements: a statement ends with a line ending in ';'.
function splitStatements(sql) {
  const out = [];
  let cur = [];
  for (const line of sql.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("--")) continue;
    cur.push(line);
    if (t.endsWith(";")) {
      out.push(cur.join("\n").trim().replace(/;$/, ""));
      cur = [];
    }
  }
  if (cur.join("").trim() !== "") out.push(cur.join("\n").trim());
  return out;
}

let failures = 0;
function run(session, label, sql, format = "TSV") {
  try {
    const out = session.query(sql, format);
    console.log(`ok   ${label}`);
    return out;
  } catch (e) {
    failures++;
    console.error(`FAIL ${label}: ${e.message}\n${sql}`);
    return "";
  }
}

const version = query("SELECT version()", "TSV").trim();
console.log(`current ClickHouse engine: ${version}`);
const dir = mkdtempSync(join(tmpdir(), "consentry-chdb-"));
const session = new Session(dir);
try {
  run(session, "create database", "CREATE DATABASE IF NOT EXISTS consentry");
  run(session, "use database", "USE consentry");
  const files = ["bootstrap.sql", ...readdirSync(join(schemaDir, "migrations")).filter((f) => f.endsWith(".sql")).sort().map((f) => join("migrations", f))];
  for (const f of files) {
    const stmts = splitStatements(readFileSync(join(schemaDir, f), "utf8"));
    stmts.forEach((s, i) => run(session, `${f} statement ${i + 1}`, s));
    // Migrations must be idempotent: a second run is harmless.
    stmts.forEach((s, i) => run(session, `${f} statement ${i + 1} again`, s));
  }

  // Sample rows, shaped like the service's batch inserts (explicit column lists).
  run(session, "insert events", `INSERT INTO events (ts, site, type, name, host, path, query, referrer_host,
      utm_source, utm_medium, utm_campaign, utm_term, utm_content, visitor, browser, browser_version, os, device, prop_keys, prop_values) VALUES
    (now() - 3600, 'shop', 'pageview', '', 'shop.example', '/', '', 'www.google.com', 'newsletter', 'email', 'bf', '', '', 1, 'Chrome', '131', 'Linux', 'desktop', [], []),
    (now() - 60, 'shop', 'pageview', '', 'shop.example', '/products', '', '', '', '', '', '', '', 2, 'Firefox', '133', 'Windows', 'desktop', [], []),
    (now() - 30, 'shop', 'event', 'signup', 'shop.example', '/', '', '', '', '', '', '', '', 2, 'Firefox', '133', 'Windows', 'desktop', ['plan'], ['pro'])`);
  run(session, "insert signals", "INSERT INTO signals (day, site, signal, count) VALUES (today(), 'shop', 'dnt', 2), (today(), 'shop', 'gpc', 1)");
  run(session, "insert salts", "INSERT INTO salts (day, salt, created_at) VALUES (yesterday(), '00', now()), (today(), 'ab', now())");
  // Consent decisions as the ledger writes them, one of them twice (a retried insert).
  const consentCols = `(decision_id, consent_id, site, policy_version, granted, denied, method, signal, override, banner_version, lang, decided_at, decided_ms, expires_at)`;
  for (const [label, rows] of [
    ["insert consents", `('d1', 'c1', 'news', 'v1', ['necessary','analytics','marketing'], [], 'accept_all', 'none', 0, '1', 'en', now() - 60, 1795500000000, now() + 86400),
      ('d2', 'c2', 'news', 'v1', ['necessary'], ['analytics','marketing'], 'reject_all', 'gpc', 0, '1', 'fr', now() - 30, 1795500030000, now() + 86400),
      ('d3', 'c3', 'news', 'v1', ['necessary','analytics'], ['marketing'], 'custom', 'dnt', 1, '1', 'de', now() - 10, 1795500050000, now() + 86400)`],
    ["insert consents again (retry)", `('d1', 'c1', 'news', 'v1', ['necessary','analytics','marketing'], [], 'accept_all', 'none', 0, '1', 'en', now() - 60, 1795500000000, now() + 86400)`],
  ]) {
    run(session, label, `INSERT INTO consents ${consentCols} VALUES ${rows}`);
  }
  // The statistics feed, as the service runs it every few seconds (twice: idempotent).
  for (const n of [1, 2]) {
    run(session, `feed consent_daily (${n})`, `INSERT INTO consent_feed (decision_id, site, granted, denied, method, signal, decided_at)
      SELECT decision_id, site, granted, denied, method, signal, decided_at FROM consents WHERE decided_at >= toDateTime(1700000000)`);
  }
  const once = run(session, "consents FINAL sees each decision once", "SELECT count() FROM consents FINAL").trim();
  const merged = run(session, "consent_daily counts a retried decision once", "SELECT uniqExactMerge(decisions) FROM consent_daily WHERE category = 'necessary'").trim();
  if (once !== "3" || merged !== "3") {
    failures++;
    console.error(`FAIL exactly-once reads: consents FINAL ${once}, consent_daily ${merged}, want 3 and 3`);
  }
  // The banner c1 was shown, recorded by two replicas starting at once.
  for (const n of [1, 2]) {
    run(session, `banner versions: record (${n})`, `INSERT INTO banner_versions (site, banner_version, lang, policy_version, config, script, integrity, first_seen)
      VALUES ('news', '1', 'en', 'v1', '{"s":"news","t":{"title":"Your privacy choices"}}', '(()=>{})()', 'sha384-x', now())`);
  }
  run(session, "banner versions: read", "SELECT DISTINCT site, banner_version FROM banner_versions");
  run(session, "banner versions: one", `SELECT site, banner_version, lang, policy_version, config, script, integrity
    FROM banner_versions WHERE site = 'news' AND banner_version = '1' LIMIT 1`);
  run(session, "insert revocations", "INSERT INTO revocations (revoked_at, digest, site, reason) VALUES (now(), '00112233445566778899aabbccddeeff', 'news', 'withdraw')");
  run(session, "insert erasures", "INSERT INTO erasures (day, site, count) VALUES (today(), 'news', 1)");
  run(session, "record migration", "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (1, 'events', 'x', now())");

  // Every example query analysts are given must run and find the sample rows.
  const md = readFileSync(join(schemaDir, "SCHEMA.md"), "utf8");
  const blocks = [...md.matchAll(/<!-- query: ([a-z_]+) -->[\s\S]*?```sql\n([\s\S]*?)```/g)];
  if (blocks.length < 3) {
    failures++;
    console.error(`FAIL SCHEMA.md: found ${blocks.length} example queries`);
  }
  for (const [, name, sql] of blocks) {
    const out = run(session, `SCHEMA.md query ${name}`, sql);
    if (out.trim() === "") {
      failures++;
      console.error(`FAIL SCHEMA.md query ${name} returned no rows on the sample data`);
    }
  }

  // Statements the service itself issues at run time.
  run(session, "migrator: read versions", "SELECT version, any(checksum) FROM schema_migrations GROUP BY version");
  run(session, "salts: agree", "SELECT count(), min(salt) FROM salts WHERE day = toDate('2026-11-24')");
  const parts = run(session, "partitions: list", "SELECT DISTINCT partition_id, partition FROM system.parts WHERE database = currentDatabase() AND table = 'salts' AND active ORDER BY partition_id");
  const oldest = parts.trim().split("\n")[0]?.split("\t")[0];
  if (oldest) run(session, "partitions: drop by id", `ALTER TABLE salts DROP PARTITION ID '${oldest}'`);
  run(session, "site policies: record", "INSERT INTO site_policies (site, policy_version, categories, first_seen) VALUES ('news', 'v1', ['necessary!', 'analytics=beacon', 'marketing=pixel'], now())");
  run(session, "site policies: read", "SELECT site, policy_version, groupUniqArray(arrayStringConcat(categories, ' ')) FROM site_policies GROUP BY site, policy_version");
  run(session, "revocations: refresh", "SELECT digest, max(revoked_at), max(reason = 'erase') FROM revocations WHERE revoked_at >= toDateTime(1700000000) GROUP BY digest");
  run(session, "consents: history", `SELECT decision_id, consent_id, site, policy_version, granted, denied, toString(method),
    toString(signal), override, banner_version, lang, decided_ms, expires_at FROM consents FINAL WHERE consent_id = 'c1' AND site = 'news' ORDER BY decided_ms, decision_id`);
  run(session, "consents: stats", `SELECT toString(day), category, toString(method), toString(signal), is_granted, uniqExactMerge(decisions)
    FROM consent_daily WHERE site = 'news' AND day >= toDate('2026-01-01') AND day <= toDate('2099-01-01') GROUP BY day, category, method, signal, is_granted`);
  run(session, "consents: sites of a subject", "SELECT DISTINCT site FROM consents WHERE consent_id = 'c2'");
  run(session, "consents: erase", "ALTER TABLE consents DELETE WHERE consent_id = 'c2'");
  run(session, "consents: rows left", "SELECT count() FROM consents WHERE consent_id = 'c2'");
  // Partition values as retention parses them: ('site',YYYYMMDD), ('site',YYYYMM) or YYYYMM.
  for (const [table, form] of [
    ["events", /^\('shop',\d{8}\)$/m],
    ["consents", /^\('news',\d{8}\)$/m],
    ["consent_daily", /^\('news',\d{6}\)$/m],
    ["revocations", /^\d{6}$/m],
    ["erasures", /^\d{6}$/m],
  ]) {
    const parts = run(session, `${table} partition format`, `SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = '${table}' AND active`, "TSVRaw");
    if (!form.test(parts)) {
      failures++;
      console.error(`FAIL ${table} partition value not in the form retention parses: ${parts}`);
    }
  }
} finally {
  session.close();
  rmSync(dir, { recursive: true, force: true });
}
if (failures > 0) {
  console.error(`${failures} failed`);
  process.exit(1);
}
console.log("schema check on current ClickHouse: all passed");
