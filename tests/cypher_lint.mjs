// Lints Cypher with Neo4j's own front end, @neo4j-cypher/language-support (lintCypherQuery).
// stdin:  {"statements": {"<name>": {"text": "...", "parameters": {"p": <sample value>}}},
//          "schema": {"labels": [...], "relationshipTypes": [...], "propertyKeys": [...]}}
// stdout: {"<name>": [{"severity": "error"|"warning"|..., "message": "...", "line": n, "character": n}]}
// Functions and procedures are checked against the Neo4j catalogue the package ships.
import { createRequire } from 'node:module';

// The package's ESM build uses extensionless imports that node cannot resolve; its CJS build works.
const { lintCypherQuery, testData } = createRequire(import.meta.url)('@neo4j-cypher/language-support');

const SEVERITY = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

const input = JSON.parse(await readStdin());
const base = {
  functions: testData.mockSchema.functions,
  procedures: testData.mockSchema.procedures,
  ...(input.schema ?? {}),
};
const out = {};
for (const [name, statement] of Object.entries(input.statements)) {
  const schema = { ...base, parameters: statement.parameters ?? {} };
  out[name] = lintCypherQuery(statement.text, schema).map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    message: d.message,
    line: d.range.start.line + 1,
    character: d.range.start.character + 1,
  }));
}
process.stdout.write(JSON.stringify(out));
