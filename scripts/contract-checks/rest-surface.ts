import { createFileRegistry, type DescField, type DescMessage, fromBinary, getOption, hasOption } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { http } from "@shop/contracts/google/api/annotations_pb.js";

/** One published REST route and the request fields it accepts (by JSON name, dotted for nesting). */
export interface RestRoute {
  rpc: string;
  verb: string;
  path: string;
  body: string;
  fields: Record<string, { type: string; required: boolean }>;
}

const scalarName = (field: DescField): string => {
  switch (field.fieldKind) {
    case "scalar":
      return `scalar:${field.scalar}`;
    case "enum":
      return `enum:${field.enum.typeName}`;
    case "message":
      return `message:${field.message.typeName}`;
    case "list":
      return `list:${field.listKind === "scalar" ? field.scalar : field.listKind === "enum" ? field.enum.typeName : field.message.typeName}`;
    case "map":
      return `map:${field.mapKey}`;
  }
};

const isRequired = (field: DescField): boolean => {
  if (!hasOption(field, fieldRules)) return false;
  const rules = getOption(field, fieldRules);
  const type = rules.type;
  if (rules.required) return true;
  if (type.case === "string") return (type.value.minLen ?? 0n) > 0n || type.value.wellKnown.case !== undefined || !!type.value.pattern;
  if (type.case === "repeated") return (type.value.minItems ?? 0n) > 0n;
  return false;
};

// Well-known types are leaves in JSON (Timestamp is a string), so do not descend into them.
const isLeafMessage = (message: DescMessage) => message.typeName.startsWith("google.protobuf.");

function collectFields(message: DescMessage, prefix: string, out: RestRoute["fields"], depth = 0): void {
  for (const field of message.fields) {
    const name = prefix + field.jsonName;
    out[name] = { type: scalarName(field), required: isRequired(field) };
    if (field.fieldKind === "message" && !isLeafMessage(field.message) && depth < 8) {
      collectFields(field.message, `${name}.`, out, depth + 1);
    }
    if (field.fieldKind === "list" && field.listKind === "message" && !isLeafMessage(field.message) && depth < 8) {
      collectFields(field.message, `${name}[].`, out, depth + 1);
    }
  }
}

/** The REST surface of a FileDescriptorSet (a `buf build` image): every google.api.http binding. */
export function restSurface(image: Uint8Array): RestRoute[] {
  const set = fromBinary(FileDescriptorSetSchema, image);
  const registry = createFileRegistry(set);
  const routes: RestRoute[] = [];
  for (const file of registry.files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        if (!hasOption(method, http)) continue;
        const rule = getOption(method, http);
        for (const binding of [rule, ...rule.additionalBindings]) {
          const pattern = binding.pattern;
          if (!pattern.case) continue;
          const verb = pattern.case === "custom" ? pattern.value.kind.toUpperCase() : pattern.case.toUpperCase();
          const path = pattern.case === "custom" ? pattern.value.path : pattern.value;
          const fields: RestRoute["fields"] = {};
          collectFields(method.input, "", fields);
          routes.push({ rpc: `${service.typeName}/${method.name}`, verb, path, body: binding.body, fields });
        }
      }
    }
  }
  return routes.sort((a, b) => `${a.path} ${a.verb}`.localeCompare(`${b.path} ${b.verb}`));
}

/**
 * What a client of the baseline would see break: a route removed or re-bound (verb, path,
 * body, backing RPC), an accepted field removed or retyped, or a new field that is required.
 * New routes and new optional fields are fine.
 */
export function compareSurfaces(baseline: RestRoute[], current: RestRoute[]): string[] {
  const problems: string[] = [];
  const key = (r: RestRoute) => `${r.verb} ${r.path}`;
  const now = new Map(current.map((r) => [key(r), r]));
  const byRpc = new Map(current.map((r) => [r.rpc, r]));
  for (const old of baseline) {
    const route = now.get(key(old));
    if (!route) {
      const moved = byRpc.get(old.rpc);
      problems.push(moved ? `route ${key(old)} (${old.rpc}) was changed to ${key(moved)}` : `route ${key(old)} (${old.rpc}) was removed`);
      continue;
    }
    if (route.body !== old.body) problems.push(`route ${key(old)}: body binding changed from "${old.body}" to "${route.body}"`);
    if (route.rpc !== old.rpc) problems.push(`route ${key(old)}: now served by ${route.rpc} instead of ${old.rpc}`);
    for (const [name, spec] of Object.entries(old.fields)) {
      const field = route.fields[name];
      if (!field) problems.push(`route ${key(old)}: field "${name}" is no longer accepted`);
      else if (field.type !== spec.type)
        problems.push(`route ${key(old)}: field "${name}" changed type from ${spec.type} to ${field.type}`);
      else if (field.required && !spec.required) problems.push(`route ${key(old)}: field "${name}" became required`);
    }
    for (const [name, spec] of Object.entries(route.fields)) {
      if (!old.fields[name] && spec.required)
        problems.push(`route ${key(old)}: new field "${name}" is required (new fields must be optional)`);
    }
  }
  return problems;
}
