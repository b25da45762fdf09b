// Drives osiris-mcp with the official MCP TypeScript SDK, as a desktop client would:
// initialize, tools/list, then CALLS concurrent tools/call. Prints one JSON summary on
// stdout. Environment: OSIRIS_MCP_BIN (server binary), OSIRIS_MCP_ARGS (JSON array of
// its arguments), CALLS (default 100). The server inherits this process's environment.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const command = process.env.OSIRIS_MCP_BIN;
const args = JSON.parse(process.env.OSIRIS_MCP_ARGS || "[]");
const calls = Number(process.env.CALLS || "100");

// A mix of canonical names and aliases with valid arguments.
const plan = [
  ["connections_list", {}],
  ["connections.list", {}],
  ["osiris.oml.schema.get", {}],
  ["osiris.validate_oml", { oml_content: "oml_version: \"0.1.0\"\nname: x\nsteps: []\n" }],
  ["discovery.request", { connection: "mysql.main", component: "mysql.extractor", samples: 2 }],
  ["guide_start", { intent: "copy a table to csv" }],
];

const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
const client = new Client({ name: "osiris-e2e", version: "1.0.0" });
await client.connect(transport);

const listed = await client.listTools();
const started = Date.now();
const replies = await Promise.all(
  Array.from({ length: calls }, (_, i) => {
    const [name, argumentsObject] = plan[i % plan.length];
    return client.callTool({ name, arguments: argumentsObject });
  }),
);
const elapsedMs = Date.now() - started;

const envelopes = replies.map((reply) => JSON.parse(reply.content[0].text));
const summary = {
  server: client.getServerVersion(),
  tools: listed.tools.map((t) => t.name).sort(),
  calls,
  envelopes: envelopes.length,
  statuses: envelopes.reduce((acc, e) => ({ ...acc, [e.status]: (acc[e.status] || 0) + 1 }), {}),
  is_error: replies.filter((r) => r.isError).length,
  correlation_ids: new Set(envelopes.map((e) => e._meta.correlation_id)).size,
  tools_called: [...new Set(envelopes.map((e) => e._meta.tool))].sort(),
  errors: envelopes.filter((e) => e.status !== "success").slice(0, 3).map((e) => e.error),
  elapsed_ms: elapsedMs,
};
await client.close();
process.stdout.write(JSON.stringify(summary) + "\n");
