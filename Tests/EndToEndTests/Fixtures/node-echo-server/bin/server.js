#!/usr/bin/env node
// A minimal MCP server over stdio (newline-delimited JSON-RPC): initialize, tools/list, tools/call.
// Tools: echo (returns its text) and env (returns the names of its environment variables).
"use strict";
const readline = require("readline");

const tools = [
  { name: "echo", description: "Returns its text", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
  { name: "env", description: "Names of the environment variables the server sees", inputSchema: { type: "object", properties: {} } },
];

function send(message) { process.stdout.write(JSON.stringify(message) + "\n"); }

function handle(msg) {
  if (msg.id === undefined || msg.id === null) return; // notifications
  switch (msg.method) {
    case "initialize":
      return send({ jsonrpc: "2.0", id: msg.id, result: {
        protocolVersion: (msg.params && msg.params.protocolVersion) || "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "node-echo", version: "1.0.0" },
      } });
    case "ping":
      return send({ jsonrpc: "2.0", id: msg.id, result: {} });
    case "tools/list":
      return send({ jsonrpc: "2.0", id: msg.id, result: { tools } });
    case "tools/call": {
      const name = msg.params && msg.params.name;
      const args = (msg.params && msg.params.arguments) || {};
      let text;
      if (name === "echo") text = "echo: " + String(args.text);
      else if (name === "env") text = Object.keys(process.env).sort().join(" ");
      else return send({ jsonrpc: "2.0", id: msg.id, error: { code: -32602, message: "Unknown tool: " + name } });
      return send({ jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text }], isError: false } });
    }
    default:
      return send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found: " + msg.method } });
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }); }
  handle(msg);
});
rl.on("close", () => process.exit(0));
