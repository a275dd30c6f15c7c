// Validates one .glb with the Khronos glTF validator and prints its report as JSON.
// Exit status: 0 when the report has no errors, 1 when it has, 2 on bad usage or an unreadable file.
import { readFile } from 'node:fs/promises';
import validator from 'gltf-validator';

const path = process.argv[2];
if (!path) {
  console.error('usage: node validate.mjs FILE.glb');
  process.exit(2);
}
let bytes;
try {
  bytes = new Uint8Array(await readFile(path));
} catch (e) {
  console.error(`cannot read ${path}: ${e.message}`);
  process.exit(2);
}
const report = await validator.validateBytes(bytes, { maxIssues: 50 });
console.log(JSON.stringify(report, null, 1));
process.exit(report.issues.numErrors === 0 ? 0 : 1);
