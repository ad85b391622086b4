import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/**
 * OTLP trace export requests (`opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`),
 * decoded from `http/protobuf` and `http/json` into one plain shape.
 * Only what the console shows is read; everything else is skipped.
 */

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export const spanKinds = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"] as const;
export type SpanKindName = (typeof spanKinds)[number];
export const statusCodes = ["UNSET", "OK", "ERROR"] as const;

export interface ReceivedLink {
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

export interface ReceivedEvent {
  name: string;
  /** Epoch milliseconds. */
  time: number;
  attributes: Attributes;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: SpanKindName;
  /** Epoch milliseconds, to the microsecond. */
  start: number;
  end: number;
  attributes: Attributes;
  events: ReceivedEvent[];
  links: ReceivedLink[];
  status: { code: (typeof statusCodes)[number]; message: string };
  /** `service.name` of the resource that sent it. */
  service: string;
  resource: Attributes;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const nanosToMs = (nanos: bigint) => Number(nanos / 1000n) / 1000;

function emptySpan(): ReceivedSpan {
  return {
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: "UNSPECIFIED",
    start: 0,
    end: 0,
    attributes: {},
    events: [],
    links: [],
    status: { code: "UNSET", message: "" },
    service: "",
    resource: {},
  };
}

/** Calls `field` for each field of the message `reader` is positioned on (`length` bytes, or the rest). */
function fields(reader: BinaryReader, length: number | undefined, field: (number: number, wireType: WireType) => boolean): void {
  const end = length === undefined ? reader.len : reader.pos + length;
  while (reader.pos < end) {
    const [number, wireType] = reader.tag();
    if (!field(number, wireType)) reader.skip(wireType, number);
  }
}

const message = <T>(reader: BinaryReader, read: (reader: BinaryReader, length: number) => T): T => read(reader, reader.uint32());

function readAnyValue(reader: BinaryReader, length: number): AttributeValue {
  let value: AttributeValue = null;
  fields(reader, length, (number, wireType) => {
    if (number === 1 && wireType === WireType.LengthDelimited) value = reader.string();
    else if (number === 2 && wireType === WireType.Varint) value = reader.bool();
    else if (number === 3 && wireType === WireType.Varint) value = Number(reader.int64());
    else if (number === 4 && wireType === WireType.Bit64) value = reader.double();
    else if (number === 5 && wireType === WireType.LengthDelimited) {
      const values: AttributeValue[] = [];
      message(reader, (r, l) =>
        fields(r, l, (n) => {
          if (n !== 1) return false;
          values.push(message(r, readAnyValue));
          return true;
        }),
      );
      value = values;
    } else if (number === 6 && wireType === WireType.LengthDelimited) value = message(reader, readKeyValues);
    else if (number === 7 && wireType === WireType.LengthDelimited) value = Buffer.from(reader.bytes()).toString("base64");
    else return false;
    return true;
  });
  return value;
}

/** A `KeyValueList`, or any message whose field 1 is a repeated `KeyValue`. */
function readKeyValues(reader: BinaryReader, length: number): Attributes {
  const attributes: Attributes = {};
  fields(reader, length, (number) => {
    if (number !== 1) return false;
    readKeyValueInto(reader, attributes);
    return true;
  });
  return attributes;
}

function readKeyValueInto(reader: BinaryReader, attributes: Attributes): void {
  let key = "";
  let value: AttributeValue = null;
  message(reader, (r, l) =>
    fields(r, l, (number) => {
      if (number === 1) key = r.string();
      else if (number === 2) value = message(r, readAnyValue);
      else return false;
      return true;
    }),
  );
  attributes[key] = value;
}

function readSpan(reader: BinaryReader, length: number): ReceivedSpan {
  const span = emptySpan();
  fields(reader, length, (number) => {
    switch (number) {
      case 1:
        span.traceId = hex(reader.bytes());
        return true;
      case 2:
        span.spanId = hex(reader.bytes());
        return true;
      case 4:
        span.parentSpanId = hex(reader.bytes());
        return true;
      case 5:
        span.name = reader.string();
        return true;
      case 6:
        span.kind = spanKinds[reader.int32()] ?? "UNSPECIFIED";
        return true;
      case 7:
        span.start = nanosToMs(BigInt(reader.fixed64()));
        return true;
      case 8:
        span.end = nanosToMs(BigInt(reader.fixed64()));
        return true;
      case 9:
        readKeyValueInto(reader, span.attributes);
        return true;
      case 11:
        span.events.push(message(reader, readEvent));
        return true;
      case 13:
        span.links.push(message(reader, readLink));
        return true;
      case 15:
        message(reader, (r, l) =>
          fields(r, l, (n) => {
            if (n === 2) span.status.message = r.string();
            else if (n === 3) span.status.code = statusCodes[r.int32()] ?? "UNSET";
            else return false;
            return true;
          }),
        );
        return true;
      default:
        return false;
    }
  });
  return span;
}

function readEvent(reader: BinaryReader, length: number): ReceivedEvent {
  const event: ReceivedEvent = { name: "", time: 0, attributes: {} };
  fields(reader, length, (number) => {
    if (number === 1) event.time = nanosToMs(BigInt(reader.fixed64()));
    else if (number === 2) event.name = reader.string();
    else if (number === 3) readKeyValueInto(reader, event.attributes);
    else return false;
    return true;
  });
  return event;
}

function readLink(reader: BinaryReader, length: number): ReceivedLink {
  const link: ReceivedLink = { traceId: "", spanId: "", attributes: {} };
  fields(reader, length, (number) => {
    if (number === 1) link.traceId = hex(reader.bytes());
    else if (number === 2) link.spanId = hex(reader.bytes());
    else if (number === 4) readKeyValueInto(reader, link.attributes);
    else return false;
    return true;
  });
  return link;
}

/** The spans of one `ResourceSpans`, each told its resource. */
function readResourceSpans(reader: BinaryReader, length: number): ReceivedSpan[] {
  let resource: Attributes = {};
  const spans: ReceivedSpan[] = [];
  fields(reader, length, (number) => {
    if (number === 1) resource = message(reader, readKeyValues);
    else if (number === 2)
      message(reader, (r, l) =>
        fields(r, l, (n) => {
          if (n !== 2) return false;
          spans.push(message(r, readSpan));
          return true;
        }),
      );
    else return false;
    return true;
  });
  return withResource(spans, resource);
}

function withResource(spans: ReceivedSpan[], resource: Attributes): ReceivedSpan[] {
  const service = typeof resource["service.name"] === "string" ? resource["service.name"] : "unknown_service";
  for (const span of spans) {
    span.resource = resource;
    span.service = service;
  }
  return spans;
}

/** Every span of an `ExportTraceServiceRequest` in protobuf. */
export function decodeProtobufTraces(body: Uint8Array): ReceivedSpan[] {
  const reader = new BinaryReader(body);
  const spans: ReceivedSpan[] = [];
  fields(reader, undefined, (number) => {
    if (number !== 1) return false;
    spans.push(...message(reader, readResourceSpans));
    return true;
  });
  return spans;
}

// OTLP/JSON: lowerCamelCase fields, ids in hex, 64-bit integers as strings or numbers, enums as integers.

interface JsonKeyValue {
  key?: string;
  value?: JsonAnyValue;
}
interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
  kvlistValue?: { values?: JsonKeyValue[] };
  bytesValue?: string;
}
interface JsonSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: JsonKeyValue[];
  events?: { timeUnixNano?: string | number; name?: string; attributes?: JsonKeyValue[] }[];
  links?: { traceId?: string; spanId?: string; attributes?: JsonKeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface JsonRequest {
  resourceSpans?: { resource?: { attributes?: JsonKeyValue[] }; scopeSpans?: { spans?: JsonSpan[] }[] }[];
}

function jsonValue(value: JsonAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(jsonValue);
  if (value.kvlistValue) return jsonAttributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Attributes {
  const attributes: Attributes = {};
  for (const { key, value } of list ?? []) attributes[key ?? ""] = jsonValue(value);
  return attributes;
}

const jsonTime = (nanos: string | number | undefined) => nanosToMs(BigInt(nanos ?? 0));

/** Every span of an `ExportTraceServiceRequest` in OTLP/JSON. */
export function decodeJsonTraces(body: string): ReceivedSpan[] {
  const request = JSON.parse(body) as JsonRequest;
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const spans = (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map(
        (span): ReceivedSpan => ({
          ...emptySpan(),
          traceId: span.traceId ?? "",
          spanId: span.spanId ?? "",
          parentSpanId: span.parentSpanId ?? "",
          name: span.name ?? "",
          kind: spanKinds[span.kind ?? 0] ?? "UNSPECIFIED",
          start: jsonTime(span.startTimeUnixNano),
          end: jsonTime(span.endTimeUnixNano),
          attributes: jsonAttributes(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name ?? "",
            time: jsonTime(event.timeUnixNano),
            attributes: jsonAttributes(event.attributes),
          })),
          links: (span.links ?? []).map((link) => ({
            traceId: link.traceId ?? "",
            spanId: link.spanId ?? "",
            attributes: jsonAttributes(link.attributes),
          })),
          status: { code: statusCodes[span.status?.code ?? 0] ?? "UNSET", message: span.status?.message ?? "" },
        }),
      ),
    );
    return withResource(spans, jsonAttributes(resourceSpans.resource?.attributes));
  });
}
