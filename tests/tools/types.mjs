// Generates TypeScript types (openapi-typescript) for each OpenAPI document
// named on the command line, in one Node.js process, and prints one line per
// document: its path, then every line of the types that holds an empty
// object type (Record<string, never>), which a generated client cannot use.
// The `$defs` alias openapi-typescript always writes for a document without
// a root $defs (OpenAPI has none) is left out: no operation or schema uses it.
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";

for (const file of process.argv.slice(2)) {
  const ast = await openapiTS(JSON.parse(fs.readFileSync(file, "utf8")));
  const empty = astToString(ast)
    .split("\n")
    .filter((l) => l.includes("Record<string, never>") && l.trim() !== "export type $defs = Record<string, never>;");
  console.log(JSON.stringify({ file, empty }));
}
