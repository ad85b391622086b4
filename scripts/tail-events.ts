// `npm run events:tail [-- <subject filter>]`: prints every domain event as it is published,
// decoded to JSON, with its headers. Reads core NATS, so it consumes nothing from the streams.
import { createRegistry, fromBinary, toJson } from "@bufbuild/protobuf";
import { shopFiles } from "@shop/contracts";
import { defaultNatsUrl, eventHeaders, natsConnectOptions } from "@shop/runtime";
import { connect } from "nats";

const registry = createRegistry(...shopFiles);
const subject = process.argv[2] ?? "shop.>";
const nc = await connect({ ...natsConnectOptions(process.env.NATS_URL ?? defaultNatsUrl), name: "events-tail" });
console.error(`listening on ${subject} at ${nc.getServer()} (Ctrl-C to stop)`);
process.once("SIGINT", () => void nc.drain());

for await (const message of nc.subscribe(subject)) {
  const type = message.headers?.get(eventHeaders.type) ?? "";
  const schema = registry.getMessage(type);
  const headers = Object.fromEntries([...(message.headers?.keys() ?? [])].map((key) => [key, message.headers!.get(key)]));
  const payload = schema ? toJson(schema, fromBinary(schema, message.data), { registry }) : `<${message.data.length} bytes>`;
  console.log(JSON.stringify({ subject: message.subject, type, headers, payload }));
}
