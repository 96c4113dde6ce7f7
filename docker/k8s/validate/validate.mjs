// Validates Kubernetes manifests without a cluster. Every YAML document must:
//   1. match the Kubernetes OpenAPI schema of its apiVersion/kind (kubernetes-models' validate(),
//      which also covers the Prometheus Operator CRDs through @kubernetes-models/prometheus-operator);
//   2. use only fields the schema defines: the document is type-checked as an object literal of
//      the model's TypeScript interface, whose excess-property check rejects unknown or misspelt
//      fields (the schemas themselves allow extra properties, kubectl's strict validation does
//      not);
//   3. for a PrometheusRule, follow this project's alerting conventions (checkAlertRules).
//
// Usage: node validate.mjs [FILE.yaml ...]   (default: every ../*.yaml)
// Prints one line per document and one per error; exits 1 on any error, 2 on bad usage.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as kubernetes from "kubernetes-models";
import * as prometheusOperator from "@kubernetes-models/prometheus-operator";
import ts from "typescript";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));

// Model classes by "apiVersion/kind", with the package that defines them. The packages export
// nested namespaces (group, version) of classes carrying static apiVersion and kind.
function collectModels(namespace, pkg, out) {
  for (const value of Object.values(namespace)) {
    if (typeof value === "function" && value.apiVersion && value.kind) {
      out.set(`${value.apiVersion}/${value.kind}`, { model: value, pkg });
    } else if (value && typeof value === "object") {
      collectModels(value, pkg, out);
    }
  }
  return out;
}
const models = new Map();
collectModels(kubernetes, "kubernetes-models", models);
collectModels(prometheusOperator, "@kubernetes-models/prometheus-operator", models);

function describe(doc) {
  return `${doc?.kind ?? "?"} ${doc?.metadata?.name ?? "?"}`;
}

// Reads every document of every file. YAML syntax errors and non-object documents are errors.
function readDocuments(files) {
  const docs = [];
  const errors = [];
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    const parsed = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
    parsed.forEach((yamlDoc, index) => {
      const where = `${file} document ${index + 1}`;
      if (yamlDoc.errors.length > 0) {
        for (const e of yamlDoc.errors) errors.push(`${where}: YAML: ${e.message}`);
        return;
      }
      const data = yamlDoc.toJS();
      if (data === null || data === undefined) return;  // an empty document, e.g. after "---"
      if (typeof data !== "object" || Array.isArray(data)) {
        errors.push(`${where}: not a Kubernetes object`);
        return;
      }
      docs.push({ file, index, where, data });
    });
  }
  return { docs, errors };
}

// Step 1: the OpenAPI schema, through the model class.
function checkSchema(doc) {
  const { apiVersion, kind } = doc.data;
  const entry = models.get(`${apiVersion}/${kind}`);
  if (!entry) return [`${doc.where}: unknown apiVersion/kind "${apiVersion}" "${kind}"`];
  try {
    new entry.model(doc.data).validate();
  } catch (e) {
    return [`${doc.where} (${describe(doc.data)}): schema: ${e.message}`];
  }
  return [];
}

// Step 2: one generated TypeScript module declares every document as a constant of its
// interface type; the compiler reports any field the interface does not define.
function checkKnownFields(docs) {
  const typed = docs.filter((d) => models.has(`${d.data.apiVersion}/${d.data.kind}`));
  if (typed.length === 0) return [];
  const virtualFile = path.join(here, "__manifests__.ts");
  const lines = [];
  const docAtLine = [];
  typed.forEach((doc, i) => {
    const { pkg } = models.get(`${doc.data.apiVersion}/${doc.data.kind}`);
    const module = `${pkg}/${doc.data.apiVersion}/${doc.data.kind}`;
    lines.push(`import type { I${doc.data.kind} as T${i} } from "${module}";`);
  });
  typed.forEach((doc, i) => {
    const body = `export const doc${i}: T${i} = ${JSON.stringify(doc.data, null, 2)};`;
    for (const line of body.split("\n")) {
      docAtLine[lines.length] = doc;
      lines.push(line);
    }
  });
  const text = lines.join("\n") + "\n";
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    path.resolve(name) === virtualFile
      ? ts.createSourceFile(name, text, language, true)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => path.resolve(name) === virtualFile || fileExists(name);
  host.readFile = (name) => (path.resolve(name) === virtualFile ? text : readFile(name));
  const program = ts.createProgram([virtualFile], options, host);
  const errors = [];
  for (const diag of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diag.messageText, "; ");
    if (diag.file && path.resolve(diag.file.fileName) === virtualFile && diag.start !== undefined) {
      const { line } = diag.file.getLineAndCharacterOfPosition(diag.start);
      const doc = docAtLine[line];
      const where = doc ? `${doc.where} (${describe(doc.data)})` : `generated line ${line + 1}`;
      errors.push(`${where}: field check: ${message}`);
    } else {
      errors.push(`field check: ${message}`);
    }
  }
  return errors;
}

// Step 3: the CRD schema accepts any strings; these are the conventions our alerts keep so
// that Alertmanager routing and the runbook links work.
const kSeverities = new Set(["critical", "warning", "info"]);
const kDuration = /^(([0-9]+)(y|w|d|h|m|s|ms))+$/;  // Prometheus duration syntax
const kAlertName = /^[A-Z][A-Za-z0-9]*$/;

function checkAlertRules(doc) {
  if (doc.data.kind !== "PrometheusRule") return [];
  const errors = [];
  const where = `${doc.where} (${describe(doc.data)})`;
  const groups = doc.data.spec?.groups ?? [];
  if (groups.length === 0) errors.push(`${where}: no rule groups`);
  const seen = new Set();
  for (const group of groups) {
    if (!group.rules?.length) errors.push(`${where}: group "${group.name}" has no rules`);
    for (const rule of group.rules ?? []) {
      if (rule.record !== undefined) continue;  // recording rules: the schema is enough
      const name = rule.alert;
      const at = `${where}: alert "${name}"`;
      if (typeof name !== "string" || !kAlertName.test(name)) {
        errors.push(`${at}: name must be UpperCamelCase`);
      }
      if (seen.has(name)) errors.push(`${at}: defined twice`);
      seen.add(name);
      const expr = typeof rule.expr === "string" ? rule.expr.trim() : "";
      if (expr === "") errors.push(`${at}: expr must be a non-empty string`);
      if (!expr.includes("realip_") && !expr.includes("realip-proxy")) {
        errors.push(`${at}: expr does not select realip-proxy series`);
      }
      if (typeof rule.for !== "string" || !kDuration.test(rule.for)) {
        errors.push(`${at}: "for" must be a Prometheus duration such as 5m`);
      }
      if (!kSeverities.has(rule.labels?.severity)) {
        errors.push(`${at}: labels.severity must be one of ${[...kSeverities].join(", ")}`);
      }
      for (const key of ["summary", "description"]) {
        const value = rule.annotations?.[key];
        if (typeof value !== "string" || value.trim() === "") {
          errors.push(`${at}: annotations.${key} is required`);
        }
      }
    }
  }
  return errors;
}

function main(argv) {
  let files = argv;
  if (files.length === 0) {
    const dir = path.resolve(here, "..");
    files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
      .sort()
      .map((f) => path.join(dir, f));
  }
  if (files.length === 0) {
    console.error("validate: no manifests given or found");
    return 2;
  }
  const { docs, errors } = readDocuments(files);
  for (const doc of docs) {
    errors.push(...checkSchema(doc), ...checkAlertRules(doc));
  }
  errors.push(...checkKnownFields(docs));
  for (const doc of docs) console.log(`checked ${doc.where}: ${describe(doc.data)}`);
  for (const e of errors) console.log(`ERROR ${e}`);
  console.log(`${docs.length} documents in ${files.length} files, ${errors.length} errors`);
  return errors.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
