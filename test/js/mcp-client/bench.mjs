// Measures tool-call round trips through osiris-mcp with the official MCP TypeScript
// SDK, next to a bare exec of `osiris --version`, and prints p50/p99 and their ratio.
// Environment: OSIRIS_MCP_BIN, OSIRIS_BIN, OSIRIS_MCP_ARGS (JSON array), ROUNDS (50).
import { spawnSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const rounds = Number(process.env.ROUNDS || "50");
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const stats = (samples) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
};
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

const bare = [];
for (let i = 0; i < rounds; i++) {
  const start = process.hrtime.bigint();
  spawnSync(process.env.OSIRIS_BIN, ["--version"], { stdio: "ignore" });
  bare.push(ms(start));
}

const transport = new StdioClientTransport({
  command: process.env.OSIRIS_MCP_BIN,
  args: JSON.parse(process.env.OSIRIS_MCP_ARGS || "[]"),
  env: process.env,
  stderr: "ignore",
});
const client = new Client({ name: "osiris-bench", version: "1.0.0" });
await client.connect(transport);

const tools = {
  connections_list: {},
  oml_validate: { oml_content: "oml_version: \"0.1.0\"\nname: bench\nsteps:\n  - id: a\n" +
    "    component: filesystem.csv_extractor\n    mode: read\n    config:\n      path: a.csv\n" },
};
const results = { bare_exec: stats(bare) };
for (const [name, args] of Object.entries(tools)) {
  const samples = [];
  let status = "";
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    const reply = await client.callTool({ name, arguments: args });
    samples.push(ms(start));
    status = JSON.parse(reply.content[0].text).status;
  }
  results[name] = { ...stats(samples), last_status: status };
}
await client.close();

const base = results.bare_exec;
const line = (name, r) =>
  `${name.padEnd(18)} p50 ${r.p50.toFixed(1).padStart(7)} ms  p99 ${r.p99.toFixed(1).padStart(7)} ms` +
  (name === "bare_exec" ? "" :
    `  ratio p50 ${(r.p50 / base.p50).toFixed(2)}x  p99 ${(r.p99 / base.p99).toFixed(2)}x` +
    `  (last status: ${r.last_status})`);
console.log(`tool-call round trip over ${rounds} rounds (bare_exec = osiris --version):`);
for (const [name, r] of Object.entries(results)) console.log(line(name, r));
