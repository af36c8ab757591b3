// Parse an AsyncAPI document with the official parser and print its diagnostics, one
// JSON object a line, then a summary line. Exit 1 when the document cannot be parsed or
// any diagnostic is an error or a warning; 0 otherwise. The caller judges the rest.
import { resolve } from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "information", "hint"];

const path = process.argv[2];
if (!path) {
  console.error("usage: node check-asyncapi.mjs PATH");
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, resolve(path)).parse();
for (const d of diagnostics) {
  console.log(
    JSON.stringify({
      severity: SEVERITY[d.severity],
      code: d.code,
      path: d.path.join("/"),
      message: d.message,
    }),
  );
}
const blocking = diagnostics.filter((d) => d.severity <= 1).length;
console.log(JSON.stringify({ parsed: document !== undefined, diagnostics: diagnostics.length, blocking }));
process.exit(document !== undefined && blocking === 0 ? 0 : 1);
