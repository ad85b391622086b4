import { type DescEnum, type DescField, type DescMessage, type DescMethod, type Registry, ScalarType } from "@bufbuild/protobuf";

function cardinalityOf(field: DescField): string {
  switch (field.fieldKind) {
    case "list":
      return "repeated";
    case "map":
      return "map";
    default:
      return "singular";
  }
}

/** The wire type of a field (of its elements, for lists and maps), as a comparable string. */
function typeOf(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "enum":
      return `enum ${field.enum.typeName}`;
    case "message":
      return `message ${field.message.typeName}`;
    case "list":
      if (field.listKind === "scalar") return ScalarType[field.scalar].toLowerCase();
      return field.listKind === "enum" ? `enum ${field.enum.typeName}` : `message ${field.message.typeName}`;
    case "map": {
      const key = ScalarType[field.mapKey].toLowerCase();
      if (field.mapKind === "scalar") return `map<${key}, ${ScalarType[field.scalar].toLowerCase()}>`;
      return `map<${key}, ${field.mapKind === "enum" ? field.enum.typeName : field.message.typeName}>`;
    }
  }
}

const messageOf = (field: DescField): DescMessage | undefined => field.message;
const enumOf = (field: DescField): DescEnum | undefined => field.enum;

class Comparison {
  readonly problems: string[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly where: string) {}

  report(subject: string, problem: string): void {
    this.problems.push(`${this.where}: ${subject}: ${problem}`);
  }

  messages(expected: DescMessage, served: DescMessage): void {
    if (this.seen.has(expected.typeName)) return;
    this.seen.add(expected.typeName);
    for (const field of expected.fields) {
      const subject = `field ${expected.typeName}.${field.name}`;
      const counterpart = served.fields.find((f) => f.name === field.name);
      if (!counterpart) {
        this.report(subject, `is no longer served (was number ${field.number})`);
        continue;
      }
      if (counterpart.number !== field.number) this.report(subject, `number changed from ${field.number} to ${counterpart.number}`);
      if (cardinalityOf(counterpart) !== cardinalityOf(field)) {
        this.report(subject, `cardinality changed from ${cardinalityOf(field)} to ${cardinalityOf(counterpart)}`);
      }
      if (typeOf(counterpart) !== typeOf(field)) {
        this.report(subject, `type changed from ${typeOf(field)} to ${typeOf(counterpart)}`);
        continue;
      }
      const [expectedMessage, servedMessage] = [messageOf(field), messageOf(counterpart)];
      if (expectedMessage && servedMessage) this.messages(expectedMessage, servedMessage);
      const [expectedEnum, servedEnum] = [enumOf(field), enumOf(counterpart)];
      if (expectedEnum && servedEnum) this.enums(expectedEnum, servedEnum);
    }
  }

  enums(expected: DescEnum, served: DescEnum): void {
    if (this.seen.has(expected.typeName)) return;
    this.seen.add(expected.typeName);
    for (const value of expected.values) {
      const counterpart = served.values.find((v) => v.name === value.name);
      const subject = `enum value ${expected.typeName}.${value.name}`;
      if (!counterpart) this.report(subject, "was removed");
      else if (counterpart.number !== value.number) this.report(subject, `number changed from ${value.number} to ${counterpart.number}`);
    }
  }
}

/**
 * Compares what an upstream serves with what the gateway was built against, for the given
 * methods and every message and enum reachable from them. Whatever would make the gateway
 * encode or decode differently from the upstream is a problem; additions are fine.
 * Each problem names the service, the method and the field.
 */
export function compareServedMethods(expected: readonly DescMethod[], served: Registry): string[] {
  const problems: string[] = [];
  for (const method of expected) {
    const where = `${method.parent.typeName}/${method.name}`;
    const service = served.getService(method.parent.typeName);
    if (!service) {
      problems.push(`${where}: service ${method.parent.typeName} is not served`);
      continue;
    }
    const counterpart = service.methods.find((m) => m.name === method.name);
    if (!counterpart) {
      problems.push(`${where}: method is not served`);
      continue;
    }
    if (counterpart.methodKind !== method.methodKind) {
      problems.push(`${where}: kind changed from ${method.methodKind} to ${counterpart.methodKind}`);
    }
    const comparison = new Comparison(where);
    for (const [role, mine, theirs] of [
      ["request", method.input, counterpart.input],
      ["response", method.output, counterpart.output],
    ] as const) {
      if (mine.typeName !== theirs.typeName) comparison.report(role, `type changed from ${mine.typeName} to ${theirs.typeName}`);
      else comparison.messages(mine, theirs);
    }
    problems.push(...comparison.problems);
  }
  return problems;
}
