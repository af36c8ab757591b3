// Compile JSON Schemas with ajv's draft 2020-12 validator in strict mode (formats by
// ajv-formats), and optionally check instances against them.
//
//   node check-schemas.mjs DIR_OR_FILE... [--instances FILE]
//
// Prints one JSON line per schema ({path, id, compiled, error?}); with --instances,
// reads JSON lines {"schema": <file stem>, "instance": ..., "valid": bool, "label": str}
// and prints one line per instance whose verdict differs from "valid". Exits 1 if any
// schema fails to compile or any verdict differs; 2 on bad usage.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const args = process.argv.slice(2);
const at = args.indexOf("--instances");
const instancesPath = at >= 0 ? args[at + 1] : undefined;
const inputs = at >= 0 ? args.slice(0, at) : args;
const paths = inputs.flatMap((path) =>
  statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((name) => name.endsWith(".json"))
        .sort()
        .map((name) => join(path, name))
    : [path],
);
if (paths.length === 0 || (at >= 0 && !instancesPath)) {
  console.error("usage: node check-schemas.mjs DIR_OR_FILE... [--instances FILE]");
  process.exit(2);
}

let failed = 0;
const validators = new Map();
for (const path of paths) {
  // One instance per schema: each compiles alone, as a consumer would load it.
  // strict: true turns every strict-mode check (unknown keywords, union types,
  // ignored keywords, required properties not declared...) into an error.
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  try {
    const schema = JSON.parse(readFileSync(path, "utf8"));
    validators.set(basename(path, ".json"), ajv.compile(schema));
    console.log(JSON.stringify({ path, id: schema.$id ?? null, compiled: true }));
  } catch (error) {
    failed += 1;
    console.log(JSON.stringify({ path, compiled: false, error: String(error.message ?? error) }));
  }
}

if (instancesPath) {
  const lines = readFileSync(instancesPath, "utf8").split("\n").filter((line) => line.trim());
  let checked = 0;
  for (const line of lines) {
    const { schema, instance, valid, label } = JSON.parse(line);
    const validate = validators.get(schema);
    if (!validate) {
      failed += 1;
      console.log(JSON.stringify({ label, schema, error: "no such schema" }));
      continue;
    }
    checked += 1;
    const verdict = validate(instance);
    if (verdict !== valid) {
      failed += 1;
      console.log(JSON.stringify({ label, schema, expected: valid, got: verdict, errors: validate.errors }));
    }
  }
  console.log(JSON.stringify({ instances: checked }));
}
process.exit(failed === 0 ? 0 : 1);
